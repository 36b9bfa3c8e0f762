/**
 * The Express routes of `guardExpress` where Express itself is in play: the client address of a
 * route (the guard's `trustProxy`, Express's own `trust proxy` off), the ticket endpoint behind
 * `express.json()` (the body is already read when the guard's handler runs), and a route whose
 * handler throws (a bare 500, reported). Real Express server on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { guardExpress, nodeServerOptions } from '../../adapters/express.ts';
import { createGuard } from '../../src/mod.ts';

const secret = 'express-routes-test-secret-0123456789abcdef';
const origin = 'https://app.example.test';
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const token = () =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

async function start(errors: unknown[]): Promise<string> {
  const guard = createGuard({
    origins: [origin],
    jwt: { algorithms: ['HS256'], secret },
    tickets: true,
    audit: false,
  });
  await guard.ban('ip', '203.0.113.9', 60_000);
  // Express's own `trust proxy` stays off: the guard's `trustProxy` is what the routes follow.
  const ws = guardExpress({
    guard,
    trustProxy: ['127.0.0.1'],
    onError: (error) => errors.push(error),
  });
  return serve(ws);
}

async function serve(ws: ReturnType<typeof guardExpress>): Promise<string> {
  const app = express();
  app.use(express.json());
  app.post('/ws/ticket', ws.ticket());
  app.get(
    '/boom',
    ws.route(() => {
      throw new Error('route failed (test)');
    }),
  );
  const server = createServer(nodeServerOptions(), app);
  ws.attach(server);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ticket = async (base: string, extra: Record<string, string> = {}) =>
  fetch(`${base}/ws/ticket`, {
    method: 'POST',
    headers: { origin, authorization: `Bearer ${await token()}`, ...extra },
    signal: AbortSignal.timeout(5000),
  });

describe('guardExpress routes', () => {
  it("resolves the client by the guard's trustProxy: a banned address behind the proxy is told so", async () => {
    const base = await start([]);
    const banned = await ticket(base, { 'x-forwarded-for': '203.0.113.9' });
    expect(banned.status).toBe(403);
    expect(((await banned.json()) as { error: { code: string } }).error.code).toBe('BANNED');
    expect((await ticket(base, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(200);
  });

  it('issues a ticket for a JSON body express.json() already parsed', async () => {
    const base = await start([]);
    const res = await fetch(`${base}/ws/ticket`, {
      method: 'POST',
      headers: {
        origin,
        authorization: `Bearer ${await token()}`,
        'content-type': 'application/json',
      },
      body: '{}',
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('ticket');
  });

  it('answers a throwing route with a bare 500 and reports it', async () => {
    const errors: unknown[] = [];
    const base = await start(errors);
    const res = await fetch(`${base}/boom`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(500);
    expect(String(errors[0])).toMatch(/route failed/);
  });
});
