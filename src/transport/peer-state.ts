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

/** The state of a socket the guard just accepted: busy (frames queue) until it opens. */
export function createPeerState(connection: GuardConnection): PeerState {
  return {
    connection,
    peer: undefined,
    opened: false,
    appOpened: false,
    closing: false,
    closed: false,
    closeCode: undefined,
    busy: true,
    queue: undefined,
    queuedBytes: 0,
    timer: undefined,
    violationCode: undefined,
    appCloseCode: undefined,
  };
}

/** Cancel the socket's timer, if any. */
export function clearTimer(s: PeerState): void {
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timer = undefined;
}
