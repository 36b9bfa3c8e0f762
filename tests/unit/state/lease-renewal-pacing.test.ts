/**
 * Lease renewals are paced: an instance holding thousands of lease sets renews them with a bounded
 * number in flight, not all in one synchronous burst. The burst queued every renewal behind the
 * others on one connection, so on a busy instance the later ones outlived the store's command
 * timeout and failed (145,624 renewal errors in the reconnect storm of docs/scaling.md), and a
 * lease set whose renewals keep failing expires: the caps under-count. A tick that finds the
 * previous tick's renewals still running waits for the next one instead of piling up more.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore, type Store } from '../../../src/mod.ts';
import { settle, testGuard } from '../fixtures/guards.ts';

/** A memory store whose `renewLeases` takes `ms` and counts how many run at once. */
function slowRenewals(ms: number) {
  const inner = createMemoryStore();
  const seen = { inFlight: 0, maxInFlight: 0, renewed: new Set<string>(), calls: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (prop !== 'renewLeases' || typeof v !== 'function') {
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      }
      return async (key: string, ids: readonly string[], ttl: number) => {
        seen.calls++;
        seen.inFlight++;
        seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
        try {
          await settle(ms);
          seen.renewed.add(key);
          return await target.renewLeases(key, ids, ttl);
        } finally {
          seen.inFlight--;
        }
      };
    },
  }) as Store;
  return { store, seen };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('lease renewal pacing', () => {
  it('renews 600 lease sets with at most 64 in flight, and every one of them', async () => {
    const { store, seen } = slowRenewals(20);
    const { guard, open } = testGuard(store, {
      limits: { connectRate: false, leaseTtlMs: 3000 },
    });
    closers.push(() => guard.shutdown());
    // 300 connections, each its own address and user: 600 lease sets.
    for (let i = 0; i < 300; i++)
      await open({ sub: `u${i}`, ip: `10.${1 + (i >> 8)}.${i & 255}.1` });
    await expect.poll(() => seen.renewed.size, { timeout: 4000, interval: 50 }).toBe(600);
    expect(seen.maxInFlight).toBeGreaterThan(1);
    expect(seen.maxInFlight).toBeLessThanOrEqual(64);
  });

  it('skips a tick while the previous renewals still run', async () => {
    // Each renewal takes 1.5 s; ticks come every second (TTL 3 s): no tick may start a second
    // round on a key whose first is still running.
    const { store, seen } = slowRenewals(1500);
    const { guard, open } = testGuard(store, {
      limits: { connectRate: false, leaseTtlMs: 3000 },
    });
    closers.push(() => guard.shutdown());
    await open({ sub: 'solo', ip: '203.0.113.7' });
    await settle(3300);
    // Ticks at ~1 s, 2 s, 3 s; the one at 2 s found the 1 s round running.
    expect(seen.maxInFlight).toBe(2); // the ip and the user lease sets of one round
    expect(seen.calls).toBeLessThanOrEqual(4);
  });
});
