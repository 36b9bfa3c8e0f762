/**
 * Load shedding for one kind of request (handshakes, ticket requests): at most `cap` in progress
 * at once; past it a request is refused at once, and told when to come back.
 *
 * The delay is what bounds a reconnect storm. A constant `Retry-After` brings every refused client
 * back in the same second, and the storm again; a fixed small window is no better when demand is
 * many times capacity. So each refusal draws its delay uniformly from 1 s to a window that grows
 * with the overload: the requests refused in the last full second over those admitted in it (how
 * many seconds of capacity the refused crowd needs), at least `minWindowSec`, at most
 * `maxWindowSec`. Spread over that window, the crowd comes back at about the rate that was
 * admitted.
 *
 * @module
 */

/** The shedding of one kind of request. */
export class LoadShed {
  #inFlight = 0;
  #second = 0;
  #admitted = 0;
  #shed = 0;
  #lastAdmitted = 0;
  #lastShed = 0;
  readonly #cap: number;
  readonly #minWindowSec: number;
  readonly #maxWindowSec: number;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(
    cap: number,
    options: {
      readonly minWindowSec?: number;
      readonly maxWindowSec?: number;
      readonly now?: () => number;
      readonly random?: () => number;
    } = {},
  ) {
    this.#cap = cap;
    this.#minWindowSec = Math.max(1, options.minWindowSec ?? 5);
    this.#maxWindowSec = Math.max(this.#minWindowSec, options.maxWindowSec ?? 60);
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Requests in progress. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Start a request: `true` (call {@link leave} when it is decided), or `false`: shed it. */
  enter(): boolean {
    this.#tick();
    if (this.#inFlight >= this.#cap) {
      this.#shed++;
      return false;
    }
    this.#inFlight++;
    this.#admitted++;
    return true;
  }

  /** Count a request in past the cap (a dry run refuses nothing); {@link leave} it as any other. */
  force(): void {
    this.#inFlight++;
    this.#admitted++;
  }

  /** A request that entered is decided. */
  leave(): void {
    if (this.#inFlight > 0) this.#inFlight--;
  }

  /** The delay to give a shed request, in whole seconds (≥ 1), drawn over the current window. */
  retryAfterSec(): number {
    return 1 + Math.floor(this.#random() * this.windowSec());
  }

  /** The window refused requests are spread over, in seconds. */
  windowSec(): number {
    this.#tick();
    const needed = Math.ceil(this.#lastShed / Math.max(1, this.#lastAdmitted));
    return Math.min(this.#maxWindowSec, Math.max(this.#minWindowSec, needed));
  }

  /** Roll the per-second counts over when a new second began. */
  #tick(): void {
    const second = Math.floor(this.#now() / 1000);
    if (second === this.#second) return;
    // A second with nothing in it since the last one means the counts are stale: zero them.
    const fresh = second === this.#second + 1;
    this.#lastAdmitted = fresh ? this.#admitted : 0;
    this.#lastShed = fresh ? this.#shed : 0;
    this.#admitted = 0;
    this.#shed = 0;
    this.#second = second;
  }
}
