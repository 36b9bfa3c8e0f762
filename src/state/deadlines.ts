/**
 * A connection never outlives its credential, and an unauthenticated one never outlives its
 * auth deadline, even if it stays silent: one timer per guard closes each at its deadline
 * (4002 / 4001), within a slice of it. It re-reads a connection's deadline when it comes due,
 * because an in-band refresh may have moved it.
 *
 * @module
 */
import type { ConnectionState } from './connection.ts';

/**
 * How late a deadline may fire: the timer's delays are whole slices, so the guard arms at most
 * `TIMER_SPAN_MS / DEADLINE_SLICE_MS` distinct durations. Node keeps a timer list per distinct
 * duration and, for an unref'd timer, keeps it after `clearTimeout` until that duration has
 * passed (a duration of its own per connection left ~150 B per closed connection until its
 * token's expiry): whole slices bound those lists at 1,200, whatever the handshake rate.
 */
export const DEADLINE_SLICE_MS = 50;
/** The longest the timer is armed for; a later deadline waits for the next firing. */
const TIMER_SPAN_MS = 60_000;

/** The deadline timers of one guard. */
export interface Deadlines {
  /** (Re-)arm `c`'s deadline at its current value; a no-op before the socket is attached. */
  arm(c: ConnectionState): void;
  /** Forget `c`'s deadline (at release). */
  clear(c: ConnectionState): void;
}

const deadlineOf = (c: ConnectionState): number | undefined =>
  c.principal ? c.expiresAt : c.authDeadline;

/**
 * The connections with a deadline, as a binary min-heap by deadline, each knowing its place in
 * it (`deadlineSlot`): adding and removing cost O(log n), and a connection costs two array
 * slots, not a `Timeout` and its closure (~0.25 KiB).
 */
class DeadlineHeap {
  readonly #heap: ConnectionState[] = [];
  readonly #keys: number[] = [];

  get size(): number {
    return this.#heap.length;
  }

  /** The earliest deadline's connection, if any. */
  get first(): ConnectionState | undefined {
    return this.#heap[0];
  }

  /** The earliest deadline (Infinity when empty). */
  get firstKey(): number {
    return this.#heap.length > 0 ? this.#keys[0]! : Number.POSITIVE_INFINITY;
  }

  add(c: ConnectionState, key: number): void {
    this.#heap.push(c);
    this.#keys.push(key);
    this.#up(c, key, this.#heap.length - 1);
  }

  remove(c: ConnectionState): void {
    const i = c.deadlineSlot;
    if (i < 0) return;
    c.deadlineSlot = -1;
    const last = this.#heap.pop()!;
    const lastKey = this.#keys.pop()!;
    if (last === c) return;
    // The last entry fills the hole, then moves to where its key belongs.
    if (i > 0 && this.#keys[(i - 1) >> 1]! > lastKey) this.#up(last, lastKey, i);
    else this.#down(last, lastKey, i);
  }

  #place(c: ConnectionState, key: number, i: number): void {
    this.#heap[i] = c;
    this.#keys[i] = key;
    c.deadlineSlot = i;
  }

  #up(c: ConnectionState, key: number, from: number): void {
    const keys = this.#keys;
    let i = from;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      this.#place(this.#heap[parent]!, keys[parent]!, i);
      i = parent;
    }
    this.#place(c, key, i);
  }

  #down(c: ConnectionState, key: number, from: number): void {
    const keys = this.#keys;
    const n = this.#heap.length;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const child = l + 1 < n && keys[l + 1]! < keys[l]! ? l + 1 : l;
      if (keys[child]! >= key) break;
      this.#place(this.#heap[child]!, keys[child]!, i);
      i = child;
    }
    this.#place(c, key, i);
  }
}

/**
 * Deadlines on `now`'s clock; `expire` closes a connection whose deadline has passed.
 *
 * One unref'd timer is armed for the earliest deadline, never earlier than needed and never
 * re-armed for a later one: a clear leaves it to fire, find nothing due and re-arm (or, with
 * nothing left, it is cancelled, so a guard with no deadline has nothing scheduled).
 */
export function createDeadlines(
  now: () => number,
  expire: (c: ConnectionState) => void,
): Deadlines {
  const heap = new DeadlineHeap();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires, on `now`'s clock. */
  let firesAt = Number.POSITIVE_INFINITY;

  const schedule = (): void => {
    if (heap.size === 0) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      firesAt = Number.POSITIVE_INFINITY;
      return;
    }
    const due = heap.firstKey;
    // Armed already for this deadline's slice or before it: that firing will see to it.
    if (timer !== undefined && firesAt <= due + DEADLINE_SLICE_MS) return;
    if (timer !== undefined) clearTimeout(timer);
    const t = now();
    const slices = Math.ceil(Math.max(0, due - t) / DEADLINE_SLICE_MS);
    const delay = Math.min(slices * DEADLINE_SLICE_MS, TIMER_SPAN_MS);
    firesAt = t + delay;
    timer = setTimeout(fire, delay);
    (timer as { unref?: () => void }).unref?.();
  };

  const fire = (): void => {
    timer = undefined;
    firesAt = Number.POSITIVE_INFINITY;
    try {
      const t = now();
      // One at a time: `expire` may release (and so clear) others, or arm them again.
      while (heap.firstKey <= t) {
        const c = heap.first!;
        heap.remove(c);
        const d = deadlineOf(c);
        if (c.closed || d === undefined) continue;
        if (t < d) heap.add(c, d);
        else expire(c);
      }
    } finally {
      schedule();
    }
  };

  return {
    arm(c) {
      heap.remove(c);
      const d = deadlineOf(c);
      if (!c.closed && c.terminate && d !== undefined) heap.add(c, d);
      schedule();
    },
    clear(c) {
      if (c.deadlineSlot < 0) return;
      heap.remove(c);
      if (heap.size === 0) schedule();
    },
  };
}
