/**
 * The store contract: one suite every store passes (unstorage's `testDriver` pattern). It tests
 * behaviour through the `Store` interface only, on the store's real clock: TTLs are short and the
 * waits real (at most 300 ms), because Redis expires keys on its own clock.
 *
 * Concurrency cases spread their callers over `peers` when given: several stores on one backend
 * (for Redis, separate connections), which is how instances race in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/contract.ts';

/** Options for {@link storeContract}. */
export interface StoreContractOptions {
  /** When set, the suite is skipped and the reason is shown in its title. */
  readonly skip?: string | undefined;
  /** More stores on the same backend, for the concurrency cases. */
  readonly peers?: () => Promise<readonly Store[]>;
  /** Run after the suite (delete keys, close clients). */
  readonly cleanup?: () => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Register the contract suite for one store. */
export function storeContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
  options: StoreContractOptions = {},
): void {
  const title = options.skip ? `${name} (did not run: ${options.skip})` : name;
  describe.skipIf(options.skip !== undefined)(`store contract: ${title}`, () => {
    let store: Store;
    let all: readonly Store[];
    let n = 0;
    // Fresh keys per case, so cases never see each other's state.
    const key = (label: string): string => `${label}:${++n}:${crypto.randomUUID().slice(0, 8)}`;
    // The i-th concurrent caller's store: round-robin over the peers.
    const peer = (i: number): Store => all[i % all.length] ?? store;

    beforeAll(async () => {
      store = await makeStore();
      all = [store, ...((await options.peers?.()) ?? [])];
    });
    afterAll(async () => {
      for (const s of all ?? []) await s.close?.();
      await options.cleanup?.();
    });

    it('has a name and says whether it is shared', () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
      expect(typeof store.shared).toBe('boolean');
    });

    describe('set, get, delete', () => {
      it('reads back what was set, and undefined for a missing key', async () => {
        const k = key('kv');
        expect(await store.get(k)).toBeUndefined();
        await store.set(k, 'value with spaces, ünïcødé and "quotes"', 10_000);
        expect(await store.get(k)).toBe('value with spaces, ünïcødé and "quotes"');
      });

      it('replaces the value and the TTL', async () => {
        const k = key('kv');
        await store.set(k, 'one', 100);
        await store.set(k, 'two', 10_000);
        await sleep(250);
        expect(await store.get(k)).toBe('two');
      });

      it('forgets a key after its TTL', async () => {
        const k = key('kv');
        await store.set(k, 'short', 100);
        expect(await store.get(k)).toBe('short');
        await sleep(250);
        expect(await store.get(k)).toBeUndefined();
      });

      it('treats a TTL of zero or less as already expired', async () => {
        const k = key('kv');
        await store.set(k, 'v', 10_000);
        await store.set(k, 'gone', 0);
        expect(await store.get(k)).toBeUndefined();
      });

      it('deletes a key, and deleting a missing key is not an error', async () => {
        const k = key('kv');
        await store.set(k, 'v', 10_000);
        await store.delete(k);
        expect(await store.get(k)).toBeUndefined();
        await expect(store.delete(key('missing'))).resolves.toBeUndefined();
      });

      it('keeps an empty string distinct from a missing key', async () => {
        const k = key('kv');
        await store.set(k, '', 10_000);
        expect(await store.get(k)).toBe('');
        expect(await store.take(k)).toBe('');
        expect(await store.take(k)).toBeUndefined();
      });
    });

    describe('take', () => {
      it('returns the value once, then undefined', async () => {
        const k = key('take');
        await store.set(k, 'ticket', 10_000);
        expect(await store.take(k)).toBe('ticket');
        expect(await store.take(k)).toBeUndefined();
        expect(await store.get(k)).toBeUndefined();
      });

      it('returns undefined for a missing or expired key', async () => {
        expect(await store.take(key('missing'))).toBeUndefined();
        const k = key('take');
        await store.set(k, 'ticket', 100);
        await sleep(250);
        expect(await store.take(k)).toBeUndefined();
      });

      it('gives the value to exactly one of 200 concurrent callers', async () => {
        const k = key('take-race');
        await store.set(k, 'the-one', 10_000);
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => peer(i).take(k)));
        expect(results.filter((r) => r !== undefined)).toEqual(['the-one']);
      });

      it('redeems each of 100 keys exactly once under concurrent callers', async () => {
        const keys = Array.from({ length: 100 }, () => key('take-many'));
        await Promise.all(keys.map((k, i) => store.set(k, String(i), 10_000)));
        // Four callers per key, interleaved over the peers.
        const results = await Promise.all(
          Array.from({ length: 400 }, (_, i) => peer(i).take(keys[i % 100]!)),
        );
        const won = results.filter((r) => r !== undefined);
        expect(won).toHaveLength(100);
        expect(new Set(won).size).toBe(100);
      });
    });

    describe('limit (GCRA)', () => {
      const hourly = { limit: 5, windowMs: 3_600_000 };

      it('allows the burst, counting down, then refuses with a retry delay', async () => {
        const k = key('rate');
        const seen: number[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await store.limit(k, hourly);
          expect(r.allowed).toBe(true);
          expect(r.retryAfterMs).toBe(0);
          seen.push(r.remaining);
        }
        expect(seen).toEqual([4, 3, 2, 1, 0]);
        const refused = await store.limit(k, hourly);
        expect(refused.allowed).toBe(false);
        expect(refused.remaining).toBe(0);
        // One event drips back every windowMs / limit = 720,000 ms.
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(720_000);
      });

      it('does not count a refused event', async () => {
        const k = key('rate');
        const rule = { limit: 1, windowMs: 3_600_000 };
        expect((await store.limit(k, rule)).allowed).toBe(true);
        const first = await store.limit(k, rule);
        for (let i = 0; i < 5; i++) await store.limit(k, rule);
        const later = await store.limit(k, rule);
        expect(later.allowed).toBe(false);
        // Refusals do not push the horizon out: the delay only shrinks as time passes.
        expect(later.retryAfterMs).toBeLessThanOrEqual(first.retryAfterMs);
      });

      it('honours burst separately from the sustained rate', async () => {
        const k = key('rate');
        const rule = { limit: 1, windowMs: 3_600_000, burst: 3 };
        const allowed = [];
        for (let i = 0; i < 5; i++) allowed.push((await store.limit(k, rule)).allowed);
        expect(allowed).toEqual([true, true, true, false, false]);
      });

      it('charges the cost', async () => {
        const k = key('rate');
        const rule = { limit: 10, windowMs: 3_600_000 };
        const allowed = [];
        for (let i = 0; i < 4; i++) allowed.push((await store.limit(k, rule, 3)).allowed);
        expect(allowed).toEqual([true, true, true, false]);
        // What is left fits a cost-1 event.
        expect((await store.limit(k, rule, 1)).allowed).toBe(true);
      });

      it('gives back with a negative cost, never past the burst', async () => {
        const k = key('rate');
        const rule = { limit: 2, windowMs: 3_600_000 };
        expect((await store.limit(k, rule)).allowed).toBe(true);
        expect((await store.limit(k, rule)).allowed).toBe(true);
        expect((await store.limit(k, rule)).allowed).toBe(false);
        // The guard gives back a banned handshake's step this way.
        await store.limit(k, rule, -1);
        expect((await store.limit(k, rule)).allowed).toBe(true);
        expect((await store.limit(k, rule)).allowed).toBe(false);
        // A full bucket stays full: giving back more than was taken grants nothing extra.
        const full = key('rate');
        for (let i = 0; i < 3; i++) await store.limit(full, rule, -1);
        const allowed = [];
        for (let i = 0; i < 3; i++) allowed.push((await store.limit(full, rule)).allowed);
        expect(allowed).toEqual([true, true, false]);
      });

      it('refills over time', async () => {
        const k = key('rate');
        const rule = { limit: 10, windowMs: 1000, burst: 1 }; // one event per 100 ms
        expect((await store.limit(k, rule)).allowed).toBe(true);
        const refused = await store.limit(k, rule);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
        await sleep(250);
        expect((await store.limit(k, rule)).allowed).toBe(true);
      });

      it('keeps keys independent', async () => {
        const a = key('rate');
        const b = key('rate');
        const rule = { limit: 1, windowMs: 3_600_000 };
        expect((await store.limit(a, rule)).allowed).toBe(true);
        expect((await store.limit(a, rule)).allowed).toBe(false);
        expect((await store.limit(b, rule)).allowed).toBe(true);
      });

      it('never allows more than the budget to 200 concurrent callers', async () => {
        const k = key('rate-race');
        // One event per six minutes: nothing refills while the test runs.
        const rule = { limit: 10, windowMs: 3_600_000 };
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => peer(i).limit(k, rule)),
        );
        expect(results.filter((r) => r.allowed)).toHaveLength(10);
        const cost3 = await Promise.all(
          Array.from({ length: 60 }, (_, i) => peer(i).limit(key('rate-race'), rule, 3)),
        );
        // 60 distinct keys: each one allows its own first event.
        expect(cost3.every((r) => r.allowed)).toBe(true);
        const k3 = key('rate-race');
        const shared3 = await Promise.all(
          Array.from({ length: 60 }, (_, i) => peer(i).limit(k3, rule, 3)),
        );
        expect(shared3.filter((r) => r.allowed)).toHaveLength(3);
      });
    });

    describe('leases', () => {
      const ttl = 10_000;

      it('grants up to max, then refuses with the count', async () => {
        const k = key('lease');
        for (let i = 1; i <= 3; i++) {
          expect(await store.acquireLease(k, `c${i}`, 3, ttl)).toEqual({ ok: true, count: i });
        }
        expect(await store.acquireLease(k, 'c4', 3, ttl)).toEqual({ ok: false, count: 3 });
        expect(await store.countLeases(k)).toBe(3);
      });

      it('re-acquiring a held lease succeeds without taking another slot', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'a', 2, ttl);
        await store.acquireLease(k, 'b', 2, ttl);
        expect(await store.acquireLease(k, 'a', 2, ttl)).toEqual({ ok: true, count: 2 });
        expect(await store.countLeases(k)).toBe(2);
      });

      it('counts zero for an unknown set, and max 0 grants nothing', async () => {
        expect(await store.countLeases(key('lease'))).toBe(0);
        const k = key('lease');
        expect(await store.acquireLease(k, 'a', 0, ttl)).toEqual({ ok: false, count: 0 });
        expect(await store.acquireLease(k, 'a', 0, ttl, { evictOldest: true })).toEqual({
          ok: false,
          count: 0,
        });
      });

      it('grants exactly max of 50 concurrent acquires', async () => {
        const k = key('lease-race');
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => peer(i).acquireLease(k, `conn-${i}`, 5, ttl)),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(5);
        expect(results.every((r) => r.count <= 5)).toBe(true);
        expect(await store.countLeases(k)).toBe(5);
      });

      it('evictOldest removes the first acquired lease, even if it was renewed since', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'first', 3, ttl);
        await store.acquireLease(k, 'second', 3, ttl);
        await store.acquireLease(k, 'third', 3, ttl);
        // A renewal moves `first`'s expiry past the others; it is still the oldest connection.
        await store.renewLeases(k, ['first'], ttl * 6);
        expect(await store.acquireLease(k, 'fourth', 3, ttl, { evictOldest: true })).toEqual({
          ok: true,
          count: 3,
          evicted: 'first',
        });
        expect(await store.acquireLease(k, 'fifth', 3, ttl, { evictOldest: true })).toEqual({
          ok: true,
          count: 3,
          evicted: 'second',
        });
        // `first` is gone: re-acquiring it is a new lease, which evicts `third`.
        const again = await store.acquireLease(k, 'first', 3, ttl, { evictOldest: true });
        expect(again).toEqual({ ok: true, count: 3, evicted: 'third' });
      });

      it('evictOldest under concurrency keeps the set at max', async () => {
        const k = key('lease-race');
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            peer(i).acquireLease(k, `s-${i}`, 2, ttl, { evictOldest: true }),
          ),
        );
        expect(results.every((r) => r.ok)).toBe(true);
        expect(results.filter((r) => r.evicted !== undefined)).toHaveLength(28);
        expect(new Set(results.map((r) => r.evicted).filter(Boolean)).size).toBe(28);
        expect(await store.countLeases(k)).toBe(2);
      });

      it('releases a lease, freeing its slot; releasing an unknown lease is not an error', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'a', 1, ttl);
        expect((await store.acquireLease(k, 'b', 1, ttl)).ok).toBe(false);
        await store.releaseLease(k, 'a');
        expect(await store.countLeases(k)).toBe(0);
        expect(await store.acquireLease(k, 'b', 1, ttl)).toEqual({ ok: true, count: 1 });
        await expect(store.releaseLease(k, 'nobody')).resolves.toBeUndefined();
        await expect(store.releaseLease(key('lease'), 'nobody')).resolves.toBeUndefined();
      });

      it('expires leases that are not renewed, freeing their slots', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'a', 1, 100);
        await sleep(250);
        expect(await store.countLeases(k)).toBe(0);
        expect(await store.acquireLease(k, 'b', 1, ttl)).toEqual({ ok: true, count: 1 });
      });

      it('renewal extends a lease; unknown ids are ignored', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'kept', 5, 150);
        await store.acquireLease(k, 'dropped', 5, 150);
        await store.renewLeases(k, ['kept', 'stranger'], 10_000);
        await store.renewLeases(key('lease'), ['nobody'], 10_000);
        await sleep(250);
        // Past the first TTL: only the renewed lease lives; the stranger was not added.
        expect(await store.countLeases(k)).toBe(1);
        expect(await store.acquireLease(k, 'kept', 5, 10_000)).toEqual({ ok: true, count: 1 });
      });

      it('renewal does not revive an expired lease', async () => {
        const k = key('lease');
        await store.acquireLease(k, 'late', 1, 100);
        await sleep(250);
        await store.renewLeases(k, ['late'], 10_000);
        expect(await store.countLeases(k)).toBe(0);
        expect((await store.acquireLease(k, 'newcomer', 1, ttl)).ok).toBe(true);
      });
    });

    describe('addScore', () => {
      it('adds points', async () => {
        const k = key('score');
        expect(await store.addScore(k, 4, 60_000)).toBe(4);
        const s = await store.addScore(k, 5, 60_000);
        // A few ms of decay at a one-minute half-life.
        expect(s).toBeGreaterThan(8.99);
        expect(s).toBeLessThanOrEqual(9);
      });

      it('halves every half-life', async () => {
        const k = key('score');
        await store.addScore(k, 8, 100);
        await sleep(250);
        const s = await store.addScore(k, 1, 100);
        // At least two half-lives passed: 8 decayed to at most 2 (plus 1), and not to nothing.
        expect(s).toBeGreaterThan(1);
        expect(s).toBeLessThanOrEqual(3.001);
      });

      it('forgets a score after ten half-lives', async () => {
        const k = key('score');
        await store.addScore(k, 100, 20);
        await sleep(250);
        expect(await store.addScore(k, 1, 20)).toBe(1);
      });

      it('keeps scores of different keys apart', async () => {
        const a = key('score');
        const b = key('score');
        await store.addScore(a, 10, 60_000);
        expect(await store.addScore(b, 1, 60_000)).toBe(1);
      });

      it('loses no points under 100 concurrent additions', async () => {
        const k = key('score-race');
        await Promise.all(Array.from({ length: 100 }, (_, i) => peer(i).addScore(k, 1, 3_600_000)));
        const total = await store.addScore(k, 0, 3_600_000);
        expect(total).toBeGreaterThan(99.9);
        expect(total).toBeLessThanOrEqual(100);
      });
    });
  });
}
