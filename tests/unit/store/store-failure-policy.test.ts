import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createGuard, createMemoryStore, type GuardOptions, type Store } from '../../../src/mod.ts';

const secret = 'failure-policy-secret-that-is-32-bytes';
const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

/** A store whose backend is down: every call rejects. */
function deadStore(): Store {
  const fail = () => Promise.reject(new Error('ECONNREFUSED'));
  return {
    name: 'dead',
    shared: true,
    set: fail,
    get: fail,
    delete: fail,
    take: fail,
    limit: fail,
    acquireLease: fail,
    renewLeases: fail,
    releaseLease: fail,
    countLeases: fail,
    addScore: fail,
  };
}

const base = (limits: GuardOptions['limits'], store: Store = deadStore()): GuardOptions => ({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  store,
  limits: { maxConnectionsPerIp: false, maxConnectionsPerUser: false, ...limits },
  audit: false,
  onError: () => {},
});
const upgrade = async (guard: ReturnType<typeof createGuard>, ip: string, query = '') =>
  guard.upgrade({
    request: new Request(`http://app/ws${query}`, {
      headers: {
        origin: 'https://app.example.com',
        ...(query ? {} : { authorization: `Bearer ${await token('u')}` }),
      },
    }),
    ip,
  });

describe('store failure policy', () => {
  it('fails closed by default: 503 with Retry-After when the store is down', async () => {
    const d = await upgrade(createGuard(base({})), '10.0.0.1');
    expect(d).toMatchObject({
      ok: false,
      reason: 'store_unavailable',
      status: 503,
      closeCode: 1013,
    });
    expect(d.ok === false && d.retryAfter).toBeGreaterThan(0);
  });

  it('fails closed on a store that throws synchronously, and serves one that answers plain values', async () => {
    const throwing = {
      ...deadStore(),
      get: () => {
        throw new Error('boom');
      },
    } as Store;
    expect(await upgrade(createGuard(base({}, throwing)), '10.0.0.2')).toMatchObject({
      ok: false,
      reason: 'store_unavailable',
    });
    // A JS store that forgets the promise (answers the value itself) still works, as with `await`.
    const plain = {
      ...deadStore(),
      get: () => undefined,
      limit: () => ({ allowed: true, remaining: 1, retryAfterMs: 0 }),
    } as unknown as Store;
    expect(await upgrade(createGuard(base({}, plain)), '10.0.0.3')).toMatchObject({ ok: true });
  });

  it("'local' keeps serving JWT handshakes with the connection rate enforced per instance", async () => {
    const guard = createGuard(
      base({ onStoreError: 'local', connectRate: { limit: 3, windowMs: 60_000, burst: 3 } }),
    );
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await upgrade(guard, '10.0.0.2'));
    expect(results.map((d) => (d.ok ? 'ok' : d.reason))).toEqual([
      'ok',
      'ok',
      'ok',
      'connect_rate',
      'connect_rate',
    ]);
    expect(results[3]).toMatchObject({ status: 429 });
    // Another address has its own budget.
    expect((await upgrade(guard, '10.0.0.3')).ok).toBe(true);
  });

  it("'local' never fails open for tickets: redemption still needs the shared store", async () => {
    const guard = createGuard(base({ onStoreError: 'local' }));
    const d = await upgrade(guard, '10.0.0.4', `?ticket=${'A'.repeat(43)}`);
    expect(d).toMatchObject({ ok: false, reason: 'store_unavailable', status: 503 });
  });

  it("'local' still applies a ban placed on this instance during the outage", async () => {
    const guard = createGuard(base({ onStoreError: 'local' }));
    await guard.ban('ip', '10.0.0.5', 60_000).catch(() => {});
    const d = await upgrade(guard, '10.0.0.5');
    expect(d).toMatchObject({ ok: false, reason: 'banned', status: 403 });
    expect((await upgrade(guard, '10.0.0.6')).ok).toBe(true);
  });

  it("'local' scores violations during the outage and bans a repeat forger on this instance", async () => {
    // The review: with 'local', limits and ban lookups fell back but scoring did not, so no
    // automatic ban could start while the store was down.
    const guard = createGuard({
      ...base({ onStoreError: 'local', connectRate: false }),
      penalties: { threshold: 20 },
    });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('admin')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const forge = () =>
      guard.upgrade({
        request: new Request('http://app/ws', {
          headers: { origin: 'https://app.example.com', authorization: `Bearer ${forged}` },
        }),
        ip: '10.0.0.66',
      });
    const reasons: string[] = [];
    for (let i = 0; i < 8; i++) {
      const d = await forge();
      reasons.push(d.ok ? 'accepted' : d.reason);
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(reasons.slice(0, 6)).toEqual(Array(6).fill('credentials_invalid'));
    expect(reasons.slice(6)).toEqual(['banned', 'banned']);
    // Another address is not affected.
    expect(await upgrade(guard, '10.0.0.67')).toMatchObject({ ok: true });
  });

  it("uses the shared store when it answers, also in 'local' mode", async () => {
    const store = createMemoryStore();
    const guard = createGuard(
      base({ onStoreError: 'local', connectRate: { limit: 1, windowMs: 60_000, burst: 1 } }, store),
    );
    expect((await upgrade(guard, '10.0.0.7')).ok).toBe(true);
    expect(await upgrade(guard, '10.0.0.7')).toMatchObject({ ok: false, reason: 'connect_rate' });
  });

  it('refuses an unknown policy at start-up', () => {
    expect(() => createGuard(base({ onStoreError: 'open' as 'local' }))).toThrow(/onStoreError/);
  });
});
