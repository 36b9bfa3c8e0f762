/**
 * One admission for every new identity on a connection: at the handshake, at first-message
 * authentication and at an in-band refresh the user's ban, path binding and caps are checked, and
 * a socket that closes while they run leaves no lease, no count and no eviction behind.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type GuardConnection } from '../../../src/mod.ts';
import { attach, settle, sign, testGuard } from '../fixtures/guards.ts';

describe('refresh goes through the same admission as a handshake', () => {
  it("anonymous sockets refreshed into a user take that user's leases, count in stats, and stop at the cap", async () => {
    // The review: four anonymous sockets refreshed into one user, past the user cap, unseen.
    const store = createMemoryStore();
    const { guard, open } = testGuard(store, {
      allowAnonymous: true,
      limits: { connectRate: false, maxConnectionsPerUser: 2 },
    });
    const sockets = [];
    for (let i = 0; i < 4; i++) sockets.push(await open({ ip: `203.0.113.${10 + i}` }));
    const results: string[] = [];
    for (const s of sockets) {
      try {
        const p = await guard.refresh(s.connection, await sign('mallory'));
        results.push(p.sub);
      } catch (error) {
        results.push((error as { code?: string }).code ?? String(error));
      }
    }
    expect(results).toEqual(['mallory', 'mallory', 'ERR_WSGUARD_CAP', 'ERR_WSGUARD_CAP']);
    expect(await store.countLeases('lease:user:mallory')).toBe(2);
    expect(guard.stats().users).toBe(1);
    expect([...guard.connections()].filter((c) => c.principal?.sub === 'mallory')).toHaveLength(2);
    // The refused ones stay what they were: anonymous, with their address lease.
    expect(sockets[2]!.connection.principal).toBeUndefined();
    expect(await store.countLeases('lease:ip:203.0.113.12')).toBe(1);
    // Closing everything releases every lease.
    for (const s of sockets) await guard.close(s.connection);
    expect(await store.countLeases('lease:user:mallory')).toBe(0);
    expect(guard.stats()).toMatchObject({ connections: 0, users: 0 });
  });

  it('path binding holds at a refresh that brings the first identity', async () => {
    const { guard, open } = testGuard(createMemoryStore(), {
      allowAnonymous: true,
      pathBinding: '/ws/:sub',
    });
    const s = await open({ url: '/ws/alice' });
    await expect(guard.refresh(s.connection, await sign('mallory'))).rejects.toThrow(/path/);
    expect(s.connection.principal).toBeUndefined();
    await expect(guard.refresh(s.connection, await sign('alice'))).resolves.toMatchObject({
      sub: 'alice',
    });
  });

  it('a refresh on a closed connection is refused and takes nothing', async () => {
    const store = createMemoryStore();
    const { guard, open } = testGuard(store, { allowAnonymous: true });
    const s = await open({});
    await guard.close(s.connection);
    await expect(guard.refresh(s.connection, await sign('alice'))).rejects.toThrow(/closed/);
    expect(await store.countLeases('lease:user:alice')).toBe(0);
    expect(guard.stats().users).toBe(0);
  });
});

describe('first-message authentication racing a close', () => {
  /**
   * A guard on a memory store whose user-ban lookups wait until the test lets them go: the await
   * between verifying a first-message credential and taking its caps, where a real store (Redis)
   * spends a round trip and the client may go away.
   */
  function slowBanLookup(extra: Parameters<typeof testGuard>[1] = {}) {
    const store = createMemoryStore();
    const gates: (() => void)[] = [];
    let gating = true;
    const gated = new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        const fn = (v as (...x: unknown[]) => unknown).bind(target);
        if (prop !== 'get') return fn;
        return async (key: string) => {
          if (gating && key.startsWith('ban:user:')) await new Promise<void>((r) => gates.push(r));
          return fn(key);
        };
      },
    });
    const t = testGuard(gated, { credentials: { header: true, firstMessage: true }, ...extra });
    const pendingSocket = async (ip: string): Promise<GuardConnection> => {
      const d = await t.upgrade({ ip });
      if (!d.ok) throw new Error(d.reason);
      attach(t.guard, d.connection);
      return d.connection;
    };
    const openGates = () => {
      for (const g of gates.splice(0)) g();
    };
    const setGating = (on: boolean) => {
      gating = on;
    };
    return { ...t, store, pendingSocket, openGates, setGating };
  }

  it('five sockets closed mid-authentication leave no user lease, and the next real connection is accepted', async () => {
    const { guard, store, pendingSocket, openGates, setGating } = slowBanLookup({
      limits: { connectRate: false, maxConnectionsPerUser: 3 },
    });
    const token = await sign('alice');
    const decisions = [];
    for (let i = 0; i < 5; i++) {
      const c = await pendingSocket(`203.0.113.${20 + i}`);
      decisions.push(guard.message(c, JSON.stringify({ type: 'auth', token })));
      await settle();
      await guard.close(c, 1006); // the client went away while its credential was checked
    }
    openGates();
    for (const d of await Promise.all(decisions))
      expect(d).toMatchObject({ action: 'close', message: 'closed' });
    await settle();
    expect(await store.countLeases('lease:user:alice')).toBe(0);
    expect(guard.stats()).toMatchObject({ connections: 0, users: 0 });
    setGating(false);
    const next = await pendingSocket('203.0.113.30');
    const d = await guard.message(next, JSON.stringify({ type: 'auth', token }));
    expect(d).toMatchObject({ action: 'deliver', authenticated: true });
    expect(await store.countLeases('lease:user:alice')).toBe(1);
  });

  it('with singleSession, an aborted authentication does not evict the live session', async () => {
    const { guard, pendingSocket, openGates, open, setGating } = slowBanLookup({
      limits: { connectRate: false, maxConnectionsPerUser: 1, singleSession: true },
    });
    setGating(false);
    const live = await open({ sub: 'alice', ip: '203.0.113.40' });
    setGating(true);
    const c = await pendingSocket('203.0.113.41');
    const d = guard.message(c, JSON.stringify({ type: 'auth', token: await sign('alice') }));
    await settle(); // now waiting on the user-ban lookup
    await guard.close(c, 1006);
    openGates();
    expect(await d).toMatchObject({ action: 'close', message: 'closed' });
    expect(live.closes).toEqual([]);
    expect(live.connection.closed).toBe(false);
  });
});

describe('the store steps a handshake takes together give back what a refusal did not need', () => {
  // Issue 17: the user's ban and both leases go in one round trip, so a refused handshake may
  // have taken a lease it must not keep.
  it("a banned user's handshake keeps neither the IP's lease nor the user's", async () => {
    const store = createMemoryStore();
    const { guard, upgrade } = testGuard(store, {
      limits: { connectRate: false, maxConnectionsPerIp: 5, maxConnectionsPerUser: 5 },
    });
    await guard.ban('user', 'mallory', 60_000);
    expect(await upgrade({ sub: 'mallory', ip: '203.0.113.50' })).toMatchObject({
      ok: false,
      reason: 'banned',
    });
    expect(await store.countLeases('lease:ip:203.0.113.50')).toBe(0);
    expect(await store.countLeases('lease:user:mallory')).toBe(0);
  });

  it("a full IP cap gives back the user's lease taken beside it, and the reverse", async () => {
    const store = createMemoryStore();
    const { upgrade, open } = testGuard(store, {
      limits: { connectRate: false, maxConnectionsPerIp: 1, maxConnectionsPerUser: 1 },
    });
    await open({ sub: 'alice', ip: '203.0.113.60' });
    expect(await upgrade({ sub: 'bob', ip: '203.0.113.60' })).toMatchObject({ reason: 'ip_cap' });
    expect(await store.countLeases('lease:user:bob')).toBe(0);
    expect(await upgrade({ sub: 'alice', ip: '203.0.113.61' })).toMatchObject({
      reason: 'user_cap',
    });
    expect(await store.countLeases('lease:ip:203.0.113.61')).toBe(0);
    // Both full: the IP's cap is the answer, as in the contract's order.
    expect(await upgrade({ sub: 'alice', ip: '203.0.113.60' })).toMatchObject({ reason: 'ip_cap' });
  });

  it('with singleSession, a handshake the IP cap refuses evicts nobody', async () => {
    // An eviction cannot be given back: with single sessions the user's lease waits for the rest.
    const store = createMemoryStore();
    const { upgrade, open } = testGuard(store, {
      limits: {
        connectRate: false,
        maxConnectionsPerIp: 1,
        maxConnectionsPerUser: 1,
        singleSession: true,
      },
    });
    const live = await open({ sub: 'alice', ip: '203.0.113.70' });
    await open({ sub: 'bob', ip: '203.0.113.71' });
    expect(await upgrade({ sub: 'alice', ip: '203.0.113.71' })).toMatchObject({ reason: 'ip_cap' });
    expect(live.closes).toEqual([]);
    expect(await store.countLeases('lease:user:alice')).toBe(1);
    // From a free address the newer session replaces the older one, as before.
    expect(await upgrade({ sub: 'alice', ip: '203.0.113.72' })).toMatchObject({ ok: true });
    expect(live.closes.map((c) => c.code)).toEqual([4008]);
  });

  it('a store that fails one of the steps leaves no lease behind', async () => {
    const store = createMemoryStore();
    const failing = new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        const fn = (v as (...x: unknown[]) => unknown).bind(target);
        if (prop !== 'get') return fn;
        return async (key: string) => {
          if (key.startsWith('ban:user:')) throw new Error('down');
          return fn(key);
        };
      },
    });
    const { upgrade } = testGuard(failing, {
      limits: { connectRate: false, maxConnectionsPerIp: 5, maxConnectionsPerUser: 5 },
    });
    const d = await upgrade({ sub: 'alice', ip: '203.0.113.80' });
    expect(d.ok).toBe(false);
    await settle();
    expect(await store.countLeases('lease:ip:203.0.113.80')).toBe(0);
    expect(await store.countLeases('lease:user:alice')).toBe(0);
  });
});
