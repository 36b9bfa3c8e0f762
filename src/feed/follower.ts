/**
 * One `follow` call's side of the fan-out: a bounded queue of live events the reader loop pushes
 * into and the follower's loop drains, and the one promise that wakes that loop. Past its bound
 * the follower fails with `overflow` rather than hold memory without limit, unless it is still
 * catching up, when what is dropped is read again from Redis.
 *
 * @module
 */
import { FeedError } from './feed-error.ts';
import type { Entry } from './stream-entries.ts';

/** One `follow` call: a bounded queue of live events and a way to wake its loop. */
export class Follower<T> {
  readonly #queue: Entry<T>[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  /** While catching up, an overflow drops the queue and asks for one more `XRANGE` instead. */
  catchingUp: boolean = true;
  /** Events were dropped while catching up: the catch-up reads one more page. */
  overflowed: boolean = false;
  /** Aborted, closed or unregistered: its loop returns. */
  ended: boolean = false;
  /** Set on overflow once live: its loop throws it. */
  error: FeedError | undefined;

  /** A follower of `topic` holding at most `max` undelivered events. */
  constructor(
    readonly topic: string,
    readonly max: number,
  ) {}

  /** Events queued and not yet read. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Queue a live event (dropped once ended or failed). */
  push(entry: Entry<T>): void {
    if (this.ended || this.error) return;
    if (this.size >= this.max) {
      this.#clear();
      if (this.catchingUp) {
        // Still reading the backlog with XRANGE: what is dropped here is read again from Redis.
        this.overflowed = true;
        return;
      }
      this.error = new FeedError(
        'overflow',
        this.topic,
        `follower of "${this.topic}" did not read ${this.max} events; resume from its last id`,
      );
    } else {
      this.#queue.push(entry);
    }
    this.#notify();
  }

  /** The oldest queued event, or `undefined` when none is. */
  shift(): Entry<T> | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const entry = this.#queue[this.#head++];
    if (this.#head > 256 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** End the follower: its queue is dropped and its loop woken to return. */
  end(): void {
    this.ended = true;
    this.#clear();
    this.#notify();
  }

  /** Resolves at the next push, end or error (one waiter: a follower's loop is sequential). */
  park(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Waits for `promise`; `undefined` when the follower ends first (abort, close). */
  async until<V>(promise: Promise<V>): Promise<V | undefined> {
    let done = false;
    let value: V | undefined;
    const settled = promise.then((v) => {
      done = true;
      value = v;
    });
    while (!done && !this.ended) await Promise.race([settled, this.park()]);
    return this.ended ? undefined : value;
  }

  #clear(): void {
    this.#queue.length = 0;
    this.#head = 0;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
