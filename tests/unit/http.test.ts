import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  createGuard,
  healthHandler,
  metricsHandler,
  statsHandler,
  ticketHandler,
} from '../../src/mod.ts';

const secret = 'http-test-secret-that-is-32-bytes-long';
const sign = (sub: string, roles: string[], exp: string | number = '5m') =>
  new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
const APP = 'https://app.example.com';
const guard = createGuard({
  origins: [APP],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  permissions: { roles: { admin: ['*'], user: ['chat.*'] } },
  limits: { connectRate: false },
  audit: false,
});
const tickets = ticketHandler(guard);
const post = (headers: Record<string, string>, method = 'POST') =>
  tickets(new Request('http://app/ws/ticket', { method, headers }));

describe('ticket endpoint', () => {
  it('issues a one-time ticket for a valid bearer from the app origin, uncached and nosniff', async () => {
    const res = await post({
      origin: APP,
      authorization: `Bearer ${await sign('alice', ['user'])}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const body = (await res.json()) as { ticket: string; expiresIn: number };
    expect(body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.expiresIn).toBeGreaterThan(0);
    expect(body.expiresIn).toBeLessThanOrEqual(30);
    const ws = (t: string) =>
      guard.upgrade({
        request: new Request(`http://app/ws?ticket=${t}`, { headers: { origin: APP } }),
        ip: '127.0.0.1',
      });
    const first = await ws(body.ticket);
    expect(first.ok).toBe(true);
    const replay = await ws(body.ticket);
    expect(replay.ok === false && replay.closeCode).toBe(4001);
    if (first.ok) await guard.close(first.connection);
  });

  it('refuses another site: foreign Origin on POST and on the preflight', async () => {
    const token = await sign('alice', ['user']);
    expect(
      (await post({ origin: 'https://evil.example', authorization: `Bearer ${token}` })).status,
    ).toBe(403);
    const pre = await post(
      { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      'OPTIONS',
    );
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('cannot be driven by cookies alone', async () => {
    const res = await post({ origin: APP, cookie: `session=${await sign('alice', ['user'])}` });
    expect(res.status).toBe(401);
  });

  it('refuses missing, malformed, forged and expired bearers, and other methods', async () => {
    expect((await post({ origin: APP })).status).toBe(401);
    expect((await post({ origin: APP, authorization: 'Basic abc' })).status).toBe(401);
    expect((await post({ origin: APP, authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await post({ origin: APP, authorization: `Bearer ${forged}` })).status).toBe(401);
    expect(
      (
        await post({
          origin: APP,
          authorization: `Bearer ${await sign('alice', [], Math.floor(Date.now() / 1000) - 60)}`,
        })
      ).status,
    ).toBe(401);
    expect(
      (await post({ origin: APP, authorization: `Bearer ${'a'.repeat(10_000)}` })).status,
    ).toBe(401);
    expect((await post({ origin: APP }, 'GET')).status).toBe(405);
  });
});

describe('stats, metrics, health', () => {
  const stats = statsHandler(guard);
  const get = (token?: string) =>
    stats(
      new Request('http://app/ws/stats', {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );

  it('serves stats to an admin bearer only, without credentials in it', async () => {
    expect((await get()).status).toBe(401);
    expect((await get(await sign('bob', ['user']))).status).toBe(403);
    const res = await get(await sign('root', ['admin']));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toHaveProperty('connections');
    expect(body).toHaveProperty('rejections');
    expect(Array.isArray(body['connectionList'])).toBe(true);
  });

  it('serves Prometheus text and health', async () => {
    const m = metricsHandler(guard)(new Request('http://app/metrics'));
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(await m.text()).toMatch(/^# HELP wsguard_connections /m);
    const h = healthHandler()(new Request('http://app/healthz'));
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('ok');
  });
});
