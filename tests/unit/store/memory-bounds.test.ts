/**
 * The memory store's bounds (issue 12, defect 5): each kind of state holds at most `maxKeys` keys,
 * so no flood of distinct keys grows it without limit. On overflow expired entries go first; then
 * values, rate states and scores evict the least recently written key, and lease sets refuse a new
 * key. Flood cases push 1,000,000 distinct keys through each map and measure the heap.
 */
import { describe, expect, it } from 'vitest';
import type { RateRule } from '../../../src/core/rate-limit.ts';
import type { Store } from '../../../src/store/contract.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';
import { heapAfterGc } from '../../fixtures/heap.ts';

/** A clock the test moves. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** One event per hour: after the first call every call is refused until the state is gone. */
const SHUT: RateRule = { limit: 1, windowMs: 3_600_000, burst: 1 };
const HALF_LIFE = 60_000;

describe('memory store bounds: values and bans (kv)', () => {
  it('evicts the least recently written key; a rewrite counts as a write, a read does not', async () => {
    const store = createMemoryStore({ maxKeys: 3 });
    await store.set('a', '1', 60_000);
    await store.set('b', '2', 60_000);
    await store.set('c', '3', 60_000);
    await store.set('a', '1 again', 60_000); // a is now the newest
    expect(await store.get('b')).toBe('2'); // reading b does not keep it
    await store.set('d', '4', 60_000);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('c')).toBe('3');
    expect(await store.get('a')).toBe('1 again');
    expect(await store.get('d')).toBe('4');
    await store.set('e', '5', 60_000);
    expect(await store.get('c')).toBeUndefined();
    expect([await store.get('a'), await store.get('d'), await store.get('e')]).toEqual([
      '1 again',
      '4',
      '5',
    ]);
  });

  it('sweeps expired keys before evicting a live one', async () => {
    const c = clock();
    const store = createMemoryStore({ maxKeys: 3, now: c.now });
    await store.set('old-live', '1', 600_000);
    await store.set('short', '2', 1_000);
    await store.set('live', '3', 600_000);
    c.advance(2_000);
    await store.set('new', '4', 600_000);
    expect(await store.get('old-live')).toBe('1');
    expect(await store.get('live')).toBe('3');
    expect(await store.get('new')).toBe('4');
  });

  it('take and delete make room', async () => {
    const store = createMemoryStore({ maxKeys: 2 });
    await store.set('a', '1', 60_000);
    await store.set('b', '2', 60_000);
    expect(await store.take('a')).toBe('1');
    await store.set('c', '3', 60_000);
    expect(await store.get('b')).toBe('2');
    await store.delete('b');
    await store.set('d', '4', 60_000);
    expect([await store.get('c'), await store.get('d')]).toEqual(['3', '4']);
  });
});

describe('memory store bounds: bans are bounded apart from other values', () => {
  it('a flood of tickets (anyone with an account can mint them) never evicts a ban', async () => {
    const store = createMemoryStore({ maxKeys: 100 });
    await store.set('ban:ip:203.0.113.9', String(Date.now() + 300_000), 300_000);
    await store.set('ban:user:mallory', String(Date.now() + 300_000), 300_000);
    for (let i = 0; i < 10_000; i++) await store.set(`ticket:${i.toString(16)}`, '{}', 70_000);
    expect(await store.get('ban:ip:203.0.113.9')).toBeDefined();
    expect(await store.get('ban:user:mallory')).toBeDefined();
    // The ticket map itself stayed bounded: the oldest tickets went, the newest are there.
    expect(await store.get('ticket:0')).toBeUndefined();
    expect(await store.take('ticket:270f')).toBe('{}');
    // Bans evict only bans, the oldest first.
    for (let i = 0; i < 99; i++) await store.set(`ban:ip:10.0.0.${i}`, '1', 300_000);
    expect(await store.get('ban:ip:203.0.113.9')).toBeUndefined();
    expect(await store.get('ban:user:mallory')).toBeDefined();
  });
});

describe('memory store bounds: rate states', () => {
  it('an evicted rate state is a reset limit: the least recently limited key goes', async () => {
    const store = createMemoryStore({ maxKeys: 3 });
    for (const k of ['a', 'b', 'c']) expect((await store.limit(k, SHUT)).allowed).toBe(true);
    // a is hammered (refused, and written), so b is the least recently written.
    expect((await store.limit('a', SHUT)).allowed).toBe(false);
    expect((await store.limit('d', SHUT)).allowed).toBe(true);
    expect((await store.limit('a', SHUT)).allowed).toBe(false); // still limited
    expect((await store.limit('c', SHUT)).allowed).toBe(false);
    expect((await store.limit('b', SHUT)).allowed).toBe(true); // evicted: reset (documented)
  });

  it('sweeps spent rate states (in the past) before evicting one that still limits', async () => {
    const c = clock();
    const store = createMemoryStore({ maxKeys: 2, now: c.now });
    const quick: RateRule = { limit: 1, windowMs: 1_000, burst: 1 };
    expect((await store.limit('limited', SHUT)).allowed).toBe(true);
    expect((await store.limit('quick', quick)).allowed).toBe(true);
    c.advance(5_000); // quick's state is now in the past: it carries nothing
    expect((await store.limit('new', SHUT)).allowed).toBe(true);
    expect((await store.limit('limited', SHUT)).allowed).toBe(false);
  });
});

describe('memory store bounds: scores', () => {
  it('evicts the least recently scored key (the most decayed), keeps the active ones', async () => {
    const store = createMemoryStore({ maxKeys: 2 });
    await store.addScore('a', 5, HALF_LIFE);
    await store.addScore('b', 5, HALF_LIFE);
    await store.addScore('a', 5, HALF_LIFE);
    await store.addScore('c', 5, HALF_LIFE); // b goes
    expect(await store.addScore('a', 0, HALF_LIFE)).toBeCloseTo(10, 1);
    expect(await store.addScore('b', 1, HALF_LIFE)).toBeCloseTo(1, 5); // forgiven (documented)
  });
});

describe('memory store bounds: leases', () => {
  it('refuses a new lease set when full of live ones (never under-counts a cap)', async () => {
    const store = createMemoryStore({ maxKeys: 2 });
    expect((await store.acquireLease('ip:a', 'c1', 5, 30_000)).ok).toBe(true);
    expect((await store.acquireLease('ip:b', 'c2', 5, 30_000)).ok).toBe(true);
    expect(await store.acquireLease('ip:c', 'c3', 5, 30_000)).toEqual({ ok: false, count: 0 });
    // Existing sets still grow to their cap, and nothing was evicted.
    expect((await store.acquireLease('ip:a', 'c4', 5, 30_000)).count).toBe(2);
    expect(await store.countLeases('ip:b')).toBe(1);
    await store.releaseLease('ip:b', 'c2');
    expect((await store.acquireLease('ip:c', 'c3', 5, 30_000)).ok).toBe(true);
  });

  it('expired leases make room', async () => {
    const c = clock();
    const store = createMemoryStore({ maxKeys: 2, now: c.now });
    await store.acquireLease('ip:a', 'c1', 5, 1_000);
    await store.acquireLease('ip:b', 'c2', 5, 60_000);
    c.advance(2_000);
    expect((await store.acquireLease('ip:c', 'c3', 5, 60_000)).ok).toBe(true);
    expect(await store.countLeases('ip:b')).toBe(1);
  });
});

describe('memory store bounds: option', () => {
  it('refuses a bound that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => createMemoryStore({ maxKeys: bad }), String(bad)).toThrow(TypeError);
  });
});

/**
 * Floods: 1,000,000 distinct keys through one map with the default bound (100,000). The heap after
 * the flood must stay near the heap at the bound; the old store grew ten-fold. Bounded in time: the
 * whole flood must finish in 10 s (an O(bound) sweep per write would take hours).
 */
describe('memory store bounds: a flood of 1,000,000 distinct keys', () => {
  const BOUND = 100_000;
  const FLOOD = 1_000_000;
  const key = (i: number): string =>
    `x:2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`;

  const cases: [string, (s: Store, i: number) => unknown][] = [
    ['values (tickets)', (s, i) => s.set(key(i), String(1e12 + i), 600_000)],
    ['bans', (s, i) => s.set(`ban:ip:${key(i)}`, String(1e12 + i), 600_000)],
    ['rate states', (s, i) => s.limit(key(i), SHUT)],
    ['scores', (s, i) => s.addScore(key(i), 4, HALF_LIFE)],
    ['lease sets', (s, i) => s.acquireLease(key(i), `lease-${i}`, 20, 30_000)],
  ];

  for (const [name, write] of cases) {
    it(`${name}: memory stops growing at the bound`, async () => {
      const store = createMemoryStore();
      const started = performance.now();
      const empty = heapAfterGc();
      for (let i = 0; i < BOUND; i++) write(store, i);
      const atBound = heapAfterGc();
      // Twice the bound: evictions have begun and the hash table has reached its steady capacity.
      for (let i = BOUND; i < 2 * BOUND; i++) write(store, i);
      const steady = heapAfterGc();
      for (let i = 2 * BOUND; i < FLOOD; i++) {
        write(store, i);
        if (performance.now() - started > 10_000) throw new Error(`flood too slow at key ${i}`);
      }
      const after = heapAfterGc();
      const elapsed = performance.now() - started;
      const perKey = (atBound - empty) / BOUND;
      console.log(
        `${name}: ${perKey.toFixed(0)} B/key, ${((atBound - empty) / 2 ** 20).toFixed(1)} MiB at ${BOUND} keys, ` +
          `${((steady - empty) / 2 ** 20).toFixed(1)} MiB at ${2 * BOUND}, ` +
          `${((after - empty) / 2 ** 20).toFixed(1)} MiB after ${FLOOD} keys, ${elapsed.toFixed(0)} ms`,
      );
      const held = atBound - empty;
      // No growth with the number of keys: the last 800,000 cost under 5% of what the bound holds
      // (the old store grew by 8x that).
      expect(after - steady).toBeLessThan(held / 20);
      // The table's slack once evicting (holes until V8 rehashes): under half of the bound's cost.
      expect(steady - atBound).toBeLessThan(held / 2);
      // The newest keys are there, the oldest are not (evicted or, for leases, never admitted).
      if (name === 'lease sets') {
        expect(await store.countLeases(key(0))).toBe(1);
        expect(await store.countLeases(key(FLOOD - 1))).toBe(0);
      } else if (name.startsWith('values')) {
        expect(await store.get(key(0))).toBeUndefined();
        expect(await store.get(key(FLOOD - 1))).toBe(String(1e12 + FLOOD - 1));
      }
      await store.close?.();
    }, 30_000);
  }
});
