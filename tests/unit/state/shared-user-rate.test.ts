/**
 * Per-user message rates across instances (`SharedUserRate`): two limiters on one store (the
 * memory store stands in for Redis: the budget is one GCRA key there either way) give a user at
 * most the budget plus one slice per instance, with one store call per slice, not per frame; a
 * user refused by the store gets no fresh credit by reconnecting; a store that fails leaves each
 * instance on its own budget, reported once, and leasing resumes when the store answers.
 */
import { describe, expect, it } from 'vitest';
import type { RateRule } from '../../../src/core/rate-limit.ts';
import { createMemoryStore, type Store } from '../../../src/mod.ts';
import { SharedUserRate } from '../../../src/state/shared-user-rate.ts';

const rule: RateRule = { limit: 100, windowMs: 1000, burst: 100 };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A store that counts `limit` calls and can be made to fail. */
function counted(store: Store) {
  const state = { calls: 0, failing: false };
  const wrapped: Store = Object.create(store, {
    limit: {
      value: (key: string, r: RateRule, cost?: number) => {
        state.calls++;
        if (state.failing) return Promise.reject(new Error('store down (test)'));
        return store.limit(key, r, cost);
      },
    },
  });
  return { store: wrapped, state };
}

describe('SharedUserRate', () => {
  it('a burst larger than a slice waits for the next lease instead of being refused', async () => {
    const now = 3_000_000;
    const store = createMemoryStore({ now: () => now });
    const a = new SharedUserRate({ store, rule, now: () => now, onError: () => {} });
    // 100 frames in one synchronous burst (one TCP read): the first 25 from the credit, the rest
    // answered once leases land. The user's whole budget is usable on one instance.
    const answers = await Promise.all(Array.from({ length: 100 }, () => a.tryTake('carol', now)));
    expect(answers.filter((w) => w === 0)).toHaveLength(100);
    expect(await a.tryTake('carol', now)).toBeGreaterThan(0);
  });

  it('two instances give a user at most the budget plus one slice each, one store call per slice', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const shared = counted(createMemoryStore({ now: clock }));
    const errors: unknown[] = [];
    const a = new SharedUserRate({
      store: shared.store,
      rule,
      now: clock,
      onError: (e) => errors.push(e),
    });
    const b = new SharedUserRate({
      store: shared.store,
      rule,
      now: clock,
      onError: (e) => errors.push(e),
    });
    expect(a.slice).toBe(25); // a quarter of the burst
    let allowed = 0;
    let frames = 0;
    // 600 frames at one instant, alternating instances, leases given time to land.
    for (let i = 0; i < 300; i++) {
      for (const limiter of [a, b]) {
        frames++;
        if ((await limiter.tryTake('alice', now)) === 0) allowed++;
      }
      await tick();
    }
    expect(frames).toBe(600);
    expect(allowed).toBeLessThanOrEqual(100 + 2 * a.slice);
    expect(allowed).toBeGreaterThanOrEqual(100 - 2 * a.slice);
    // Refused frames ask again only when a refusal has run out: no call per frame.
    expect(shared.state.calls).toBeLessThanOrEqual(Math.ceil(allowed / a.slice) + 4);
    expect(errors).toEqual([]);
    // A second later the budget is back (100/s) for both together, not 100 each.
    now += 1000;
    let again = 0;
    for (let i = 0; i < 300; i++) {
      for (const limiter of [a, b]) if ((await limiter.tryTake('alice', now)) === 0) again++;
      await tick();
    }
    expect(again).toBeLessThanOrEqual(100 + 2 * a.slice);
  });

  it('another user has their own budget', async () => {
    const now = 5_000_000;
    const store = createMemoryStore({ now: () => now });
    const a = new SharedUserRate({ store, rule, now: () => now, onError: () => {} });
    for (let i = 0; i < 300; i++) {
      await a.tryTake('alice', now);
      await tick();
    }
    expect(await a.tryTake('bob', now)).toBe(0);
  });

  it('a user the store refused gets no new credit by leaving and coming back', async () => {
    const now = 9_000_000;
    const store = createMemoryStore({ now: () => now });
    const a = new SharedUserRate({ store, rule, now: () => now, onError: () => {} });
    for (let i = 0; i < 300; i++) {
      await a.tryTake('mallory', now);
      await tick();
    }
    expect(await a.tryTake('mallory', now)).toBeGreaterThan(0);
    a.delete('mallory'); // the last connection closed
    expect(await a.tryTake('mallory', now)).toBeGreaterThan(0); // reconnected: still refused
  });

  it('a failing store leaves the instance on its own budget, reported once, then leases again', async () => {
    let now = 20_000_000;
    const clock = () => now;
    const shared = counted(createMemoryStore({ now: clock }));
    shared.state.failing = true;
    const errors: unknown[] = [];
    const a = new SharedUserRate({
      store: shared.store,
      rule,
      now: clock,
      onError: (e) => errors.push(e),
    });
    let allowed = 0;
    for (let i = 0; i < 400; i++) {
      if ((await a.tryTake('alice', now)) === 0) allowed++;
      await tick();
    }
    // The credit, then this instance's own burst: bounded, not open.
    expect(allowed).toBeLessThanOrEqual(100 + a.slice);
    expect(allowed).toBeGreaterThan(50);
    expect(errors).toHaveLength(1);
    // The store is back: after the retry interval a lease succeeds and slices come from it again.
    shared.state.failing = false;
    now += 1500;
    const calls = shared.state.calls;
    for (let i = 0; i < 50; i++) {
      await a.tryTake('alice', now);
      await tick();
    }
    expect(shared.state.calls).toBeGreaterThan(calls);
    expect(errors).toHaveLength(1);
  });
});
