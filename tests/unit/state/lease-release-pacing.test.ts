/**
 * Lease releases are paced: an instance closing every socket at once (a restart, a storm's drop)
 * sends at most 64 releases at a time, not thousands in one burst. In the burst the last releases
 * waited behind the others past the store's command timeout and failed (6,600–8,800 per instance
 * in the storm of docs/scaling.md), leaving their leases to count until their TTL. Every lease is
 * still released, and a close with nothing queued is released at once.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Store } from '../../../src/mod.ts';
import { settle, testGuard } from '../fixtures/guards.ts';

/** A memory store whose `releaseLease` takes `ms` and counts how many run at once. */
function slowReleases(ms: number) {
  const inner = createMemoryStore();
  const seen = { inFlight: 0, maxInFlight: 0, released: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      if (prop !== 'releaseLease') return (v as (...a: unknown[]) => unknown).bind(target);
      return async (key: string, id: string) => {
        seen.inFlight++;
        seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
        try {
          await settle(ms);
          await target.releaseLease(key, id);
          seen.released++;
        } finally {
          seen.inFlight--;
        }
      };
    },
  }) as Store;
  return { store, seen };
}

describe('lease release pacing', () => {
  it('a shutdown of 300 connections releases 600 leases with at most 64 in flight', async () => {
    const { store, seen } = slowReleases(10);
    const { guard, open } = testGuard(store, { limits: { connectRate: false } });
    for (let i = 0; i < 300; i++)
      await open({ sub: `u${i}`, ip: `10.${1 + (i >> 8)}.${i & 255}.1` });
    await guard.shutdown();
    // The sockets' own closes (the adapters' terminate) started the releases: wait for them.
    await expect.poll(() => seen.released, { timeout: 3000, interval: 20 }).toBe(600);
    expect(seen.maxInFlight).toBeGreaterThan(1);
    expect(seen.maxInFlight).toBeLessThanOrEqual(64);
    expect(await store.countLeases('lease:user:u0')).toBe(0);
    expect(await store.countLeases('lease:ip:10.1.0.1')).toBe(0);
  });

  it('a lone close is released at once, not behind a queue', async () => {
    const { store, seen } = slowReleases(0);
    const { guard, open } = testGuard(store, { limits: { connectRate: false } });
    const s = await open({ sub: 'solo', ip: '203.0.113.5' });
    await guard.close(s.connection);
    // Both sent at once and awaited by the close itself.
    expect(seen.released).toBe(2);
    expect(await store.countLeases('lease:user:solo')).toBe(0);
  });
});
