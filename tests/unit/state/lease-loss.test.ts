/**
 * A store that loses its data without failing (a Redis restart without persistence, a failover to
 * an empty replica) answers every renewal, and renewing a lost lease does nothing: before the fix
 * the caps under-counted every connection opened before the loss until it closed. The guard's
 * sentinel notices, and the next renewal takes every lease set again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore, type Store } from '../../../src/mod.ts';
import { settle, testGuard } from '../fixtures/guards.ts';

/** A store whose data can be wiped at once, as a restarted Redis would be: nothing fails. */
function wipeableStore(): { store: Store; wipe(): void } {
  let inner = createMemoryStore();
  const store = new Proxy({} as Store, {
    get(_, prop: keyof Store) {
      if (prop === 'name') return 'wipeable';
      if (prop === 'shared') return true;
      if (prop === 'publish' || prop === 'subscribe') return undefined;
      // Looked up at each call: the guard binds the methods once, and must see the new data.
      return typeof inner[prop] === 'function'
        ? (...args: unknown[]) => (inner[prop] as (...a: unknown[]) => unknown)(...args)
        : inner[prop];
    },
  });
  return {
    store,
    wipe() {
      inner = createMemoryStore();
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('leases lost by the store are taken again', () => {
  it('a wiped store counts the open connections again at the next renewal', async () => {
    const { store, wipe } = wipeableStore();
    const { guard, open } = testGuard(store, {
      limits: { connectRate: false, maxConnectionsPerUser: 2, leaseTtlMs: 3000 },
    });
    closers.push(() => guard.shutdown());
    await open({ sub: 'dora', ip: '203.0.113.40' });
    await open({ sub: 'dora', ip: '203.0.113.41' });
    expect(await store.countLeases('lease:user:dora')).toBe(2);
    // The first renewal (after 1 s) arms the sentinel; then the store loses everything.
    await settle(1300);
    wipe();
    expect(await store.countLeases('lease:user:dora')).toBe(0);
    // The next renewal sees the sentinel gone and takes the leases again: the cap is full.
    await expect
      .poll(() => store.countLeases('lease:user:dora'), { timeout: 3000, interval: 100 })
      .toBe(2);
    expect(await store.countLeases('lease:ip:203.0.113.40')).toBe(1);
    await expect(open({ sub: 'dora', ip: '203.0.113.42' })).rejects.toThrow(/user_cap/);
  });
});
