/**
 * The memory store's bounded maps: a map holds at most a bound of keys, and a new key past it
 * first sweeps expired entries (at most once per quarter of the bound of overflows, so a write
 * costs O(1) amortised), then evicts the least recently written key, or is refused. Writes that
 * re-insert their key keep a map's iteration order its write order, which is the eviction order.
 *
 * @module
 */

/** A bounded map's bookkeeping. */
export interface SweepClock {
  /** Overflows since the map's last sweep; the sweep waits for a quarter of the bound of them. */
  overflows: number;
  /**
   * A live iterator over the map's keys, at the oldest: everything before it was evicted or
   * re-inserted behind it. A fresh `keys()` per eviction would walk the holes earlier deletions
   * left at the head of the table (V8 compacts only on rehash): quadratic under a flood.
   */
  oldest: Iterator<string> | undefined;
}

/** The bookkeeping of a new map bounded at `max`; its first overflow sweeps at once. */
export function sweepClock(max: number): SweepClock {
  return { overflows: max, oldest: undefined };
}

/**
 * Whether a write to an existing key of `map` re-inserts it (delete, then set), which keeps the
 * map's iteration order the write order, the eviction order. Only from half the bound on: a
 * re-insertion costs 100–180 ns over an update, and below half nothing is evicted soon. Eviction
 * happens only at the bound, by when every key written since the map passed half has moved
 * behind the keys last written before: the head is still the least recently written.
 */
export function isOrdered(map: Map<string, unknown>, max: number): boolean {
  return map.size * 2 >= max;
}

/**
 * Room for one new key in `map`, bounded at `max`. Below the bound there is; past it, expired
 * entries are swept when a quarter of the bound of overflows has passed since the last sweep
 * (O(1) amortised, where sweeping on every overflow of a map full of live keys would cost
 * O(bound) per write), then, when `evict`, the least recently written key goes. Whether there is
 * room now.
 */
export function makeRoom<V>(
  map: Map<string, V>,
  max: number,
  clock: SweepClock,
  now: number,
  expired: (value: V, now: number) => boolean,
  evict: boolean,
): boolean {
  if (map.size < max) return true;
  if (++clock.overflows >= max / 4) {
    clock.overflows = 0;
    for (const [k, v] of map) if (expired(v, now)) map.delete(k);
    if (map.size < max) return true;
  }
  if (!evict) return false;
  while (map.size >= max) {
    let next = clock.oldest?.next();
    if (next === undefined || next.done) {
      clock.oldest = map.keys();
      next = clock.oldest.next();
    }
    if (next.done) break;
    map.delete(next.value);
  }
  return true;
}
