/**
 * Review of "one admission, three doors": state that changes while an admission awaits the store.
 * The store is the real memory store behind a gate that holds the *answer* of one operation, as a
 * Redis round trip does (the lease is in the store, the reply is on the wire), so the test picks
 * the interleaving instead of hoping for it.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type GuardConnection, type Store } from '../../src/mod.ts';
import { attach, settle, sign, testGuard } from '../unit/fixtures/guards.ts';

/** A memory store whose `acquireLease` on `lease:user:` keys answers only when the test says. */
function gatedLeases(): { store: Store; raw: Store; release: () => void; waiting: () => number } {
  const raw = createMemoryStore();
  const gates: (() => void)[] = [];
  const store = new Proxy(raw, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...x: unknown[]) => Promise<unknown>).bind(target);
      if (prop !== 'acquireLease') return fn;
      return async (key: string, ...rest: unknown[]) => {
        const answer = await fn(key, ...rest); // taken in the store, as Redis would have
        if (key.startsWith('lease:user:')) await new Promise<void>((r) => gates.push(r));
        return answer;
      };
    },
  });
  return {
    store,
    raw,
    release: () => {
      for (const g of gates.splice(0)) g();
    },
    waiting: () => gates.length,
  };
}

describe('admission racing a close (review)', () => {
  it('found in review: a socket closed while its user lease is acquired (first-message auth) leaks the lease and locks the user out', async () => {
    const { store, raw, release, waiting } = gatedLeases();
    const { guard, upgrade } = testGuard(store, {
      credentials: { header: true, firstMessage: true },
      limits: { connectRate: false, maxConnectionsPerUser: 1 },
    });
    const d = await upgrade({ ip: '203.0.113.7' });
    if (!d.ok) throw new Error(d.reason);
    const c: GuardConnection = d.connection;
    attach(guard, c);
    const decision = guard.message(c, JSON.stringify({ type: 'auth', token: await sign('alice') }));
    for (let i = 0; i < 50 && waiting() === 0; i++) await settle(1);
    expect(waiting()).toBe(1); // the user lease is in the store, its answer is held
    await guard.close(c, 1006); // the client goes away meanwhile
    release();
    expect(await decision).toMatchObject({ action: 'close' });
    await settle(5);
    // The contract (architecture.md): "a socket that closed mid-authentication leaves no lease".
    expect(await raw.countLeases('lease:user:alice')).toBe(0);
    // What the leak costs: alice's next real connection is refused until the lease's TTL (30 s).
    const next = await testGuard(raw, {
      limits: { connectRate: false, maxConnectionsPerUser: 1 },
    }).upgrade({ sub: 'alice', ip: '203.0.113.8' });
    expect(next.ok).toBe(true);
  });

  it('found in review: two concurrent refreshes of an anonymous socket for two subjects both win (identity switch, users gauge leak)', async () => {
    const { guard, open } = testGuard(createMemoryStore(), {
      allowAnonymous: true,
      limits: { connectRate: false },
    });
    const s = await open({ ip: '203.0.113.9' });
    const [ta, tb] = await Promise.all([sign('alice'), sign('bob')]);
    const results = await Promise.allSettled([
      guard.refresh(s.connection, ta),
      guard.refresh(s.connection, tb),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled').length;
    await guard.close(s.connection, 1000);
    await settle();
    // "in-band refresh for the same subject only": one identity per connection.
    expect(won).toBe(1);
    expect(guard.stats()).toMatchObject({ connections: 0, users: 0 });
  });

  it('holds: a refresh racing an IP ban on the same instance is refused with 4030', async () => {
    const { guard, open } = testGuard(createMemoryStore(), {
      allowAnonymous: true,
      limits: { connectRate: false },
    });
    const s = await open({ ip: '203.0.113.10' });
    const p = guard.refresh(s.connection, await sign('carol'));
    await guard.ban('ip', '203.0.113.10');
    await expect(p).rejects.toThrow();
    expect(s.closes[0]?.code).toBe(4030);
    await settle();
    expect(guard.stats()).toMatchObject({ connections: 0, users: 0 });
  });
});
