/**
 * The buffer sweep, a look at every open socket's send buffer every `bufferCheckMs`, for sends
 * that bypass `peer.send` (`publish`, say) and so are not checked as they happen. It runs only
 * while a socket is open, so an idle server holds no interval.
 *
 * @module
 */
import type { PeerState } from './peer-state.ts';

/** The periodic check of the open sockets (one per set of hooks). */
export class BufferSweep {
  readonly #everyMs: number;
  readonly #peers: ReadonlySet<PeerState>;
  readonly #check: (s: PeerState) => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `check` runs for each of `peers` every `everyMs` (not at all when `everyMs` is not > 0). */
  constructor(everyMs: number, peers: ReadonlySet<PeerState>, check: (s: PeerState) => void) {
    this.#everyMs = everyMs;
    this.#peers = peers;
    this.#check = check;
  }

  /** Start sweeping, unless it is already (a socket opened). */
  start(): void {
    if (this.#timer !== undefined || !(this.#everyMs > 0)) return;
    this.#timer = setInterval(() => {
      for (const s of this.#peers) this.#check(s);
    }, this.#everyMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Stop (the last socket closed). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
