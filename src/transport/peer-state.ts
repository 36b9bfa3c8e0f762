/**
 * The transport's state of one accepted socket, from the guard's accept to its release: where it
 * is in its lifecycle, the frames waiting behind an async decision, its one timer, and who closed
 * it. The guard's own view of the connection ({@link GuardConnection}) is kept apart: this is what
 * the hooks need on top to order frames and attribute closes.
 *
 * @module
 */
import type { Message, Peer } from 'crossws';
import type { GuardConnection } from '../state/connection.ts';

/** One accepted socket, as the hooks track it. */
export interface PeerState {
  /** The guard's connection. */
  readonly connection: GuardConnection;
  /** The socket, once it opened. */
  peer: Peer | undefined;
  /** The socket opened (its open hook ran). */
  opened: boolean;
  /** The app saw the socket open: its close hook will run too. */
  appOpened: boolean;
  /** A close was started (or the connection released): no more frames are decided. */
  closing: boolean;
  /** Released: what the guard held for it is given back. */
  closed: boolean;
  /** The code of the guard's own close, once it started one. */
  closeCode: number | undefined;
  /** Not open yet, or a decision or the app's `open` is in flight: frames queue. */
  busy: boolean;
  /**
   * Frames waiting, in arrival order: made when a frame must wait, dropped once drained (an idle
   * socket holds no array, nor the backing store a burst grew).
   */
  queue: Message[] | undefined;
  /** Their estimated size (see the frame queue). */
  queuedBytes: number;
  /** The open timeout before the socket opens, the close timeout after the guard closed it. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The close code of a refusal the runtime made itself, once recorded (the error and close hooks
   * may both see it; it is recorded once).
   */
  violationCode: number | undefined;
  /**
   * The code of a close the app started itself (`peer.close`/`peer.terminate` from its hooks),
   * unless the guard was closing already: the close is then the app's, not the client's.
   */
  appCloseCode: number | undefined;
}

// The flags of `PeerRecord.bits`.
const OPENED = 1;
const APP_OPENED = 2;
const CLOSING = 4;
const CLOSED = 8;
const BUSY = 16;

/** What few sockets ever set: a timer (before open, or after the guard's close) and close codes. */
interface Rare {
  timer: ReturnType<typeof setTimeout> | undefined;
  closeCode: number | undefined;
  violationCode: number | undefined;
  appCloseCode: number | undefined;
}

/**
 * {@link PeerState} in six fields, for it lives as long as the socket: the five flags are bits of
 * one small integer, and the timer and the close codes, unset on an idle socket, live in an object
 * made when one is first set (13 fields were 128 B of every idle connection; these are 72). The
 * accessors are on the class, so no function is made per socket.
 */
class PeerRecord implements PeerState {
  peer: Peer | undefined = undefined;
  bits = BUSY;
  queue: Message[] | undefined = undefined;
  queuedBytes = 0;
  rare: Rare | undefined = undefined;

  constructor(readonly connection: GuardConnection) {}

  get opened(): boolean {
    return (this.bits & OPENED) !== 0;
  }
  set opened(on: boolean) {
    this.bits = on ? this.bits | OPENED : this.bits & ~OPENED;
  }
  get appOpened(): boolean {
    return (this.bits & APP_OPENED) !== 0;
  }
  set appOpened(on: boolean) {
    this.bits = on ? this.bits | APP_OPENED : this.bits & ~APP_OPENED;
  }
  get closing(): boolean {
    return (this.bits & CLOSING) !== 0;
  }
  set closing(on: boolean) {
    this.bits = on ? this.bits | CLOSING : this.bits & ~CLOSING;
  }
  get closed(): boolean {
    return (this.bits & CLOSED) !== 0;
  }
  set closed(on: boolean) {
    this.bits = on ? this.bits | CLOSED : this.bits & ~CLOSED;
  }
  get busy(): boolean {
    return (this.bits & BUSY) !== 0;
  }
  set busy(on: boolean) {
    this.bits = on ? this.bits | BUSY : this.bits & ~BUSY;
  }

  get timer(): ReturnType<typeof setTimeout> | undefined {
    return this.rare?.timer;
  }
  set timer(t: ReturnType<typeof setTimeout> | undefined) {
    if (t !== undefined || this.rare) rareOf(this).timer = t;
  }
  get closeCode(): number | undefined {
    return this.rare?.closeCode;
  }
  set closeCode(code: number | undefined) {
    if (code !== undefined || this.rare) rareOf(this).closeCode = code;
  }
  get violationCode(): number | undefined {
    return this.rare?.violationCode;
  }
  set violationCode(code: number | undefined) {
    if (code !== undefined || this.rare) rareOf(this).violationCode = code;
  }
  get appCloseCode(): number | undefined {
    return this.rare?.appCloseCode;
  }
  set appCloseCode(code: number | undefined) {
    if (code !== undefined || this.rare) rareOf(this).appCloseCode = code;
  }
}

/** The record's rare fields, made on first use (a function, not a private method: V8 gives each
 * instance of a class with private methods a brand field). */
function rareOf(s: PeerRecord): Rare {
  s.rare ??= {
    timer: undefined,
    closeCode: undefined,
    violationCode: undefined,
    appCloseCode: undefined,
  };
  return s.rare;
}

/** The state of a socket the guard just accepted: busy (frames queue) until it opens. */
export function createPeerState(connection: GuardConnection): PeerState {
  return new PeerRecord(connection);
}

/** Cancel the socket's timer, if any. */
export function clearTimer(s: PeerState): void {
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timer = undefined;
}
