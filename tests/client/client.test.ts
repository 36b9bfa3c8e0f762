import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, wsLink } from '@trpc/client';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  backoffDelay,
  closeAction,
  createGuardedWSClient,
  retryHintMs,
  tokenExpiry,
} from '../../src/client.ts';
import { createGuard } from '../../src/mod.ts';
import { createTRPCBridge } from '../../src/trpc.ts';
import { type AppRouter, makeRouter, Rooms } from '../trpc/fixture-router.ts';
import { startHarness } from '../trpc/harness.ts';

const WS = WebSocket as unknown as typeof globalThis.WebSocket;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A server that closes every socket at once with `code`, counting attempts. */
async function closingServer(code: number, reason: string) {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  let attempts = 0;
  wss.on('connection', (ws) => {
    attempts++;
    ws.close(code, reason);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.close(() => r());
      }),
  );
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    attempts: () => attempts,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('close-code policy', () => {
  it('maps every contract code to its action', () => {
    expect([4001, 4003, 4030, 1008, 1009].map(closeAction)).toEqual([
      'stop',
      'stop',
      'stop',
      'stop',
      'stop',
    ]);
    expect(closeAction(4002)).toBe('refresh');
    expect(closeAction(1001)).toBe('reconnect');
    expect([4008, 4029, 1013, 1011, 1006, 4999].map(closeAction)).toEqual(Array(6).fill('backoff'));
  });

  it('reads the server hint from a close reason', () => {
    expect(retryHintMs('rate limit exceeded; retry in 1500 ms')).toBe(1500);
    expect(retryHintMs('retry after 5s')).toBe(5000);
    expect(
      retryHintMs('banned until 2026-01-01T00:01:00.000Z', Date.parse('2026-01-01T00:00:00.000Z')),
    ).toBe(60_000);
    expect(retryHintMs('message rate')).toBeUndefined();
  });

  it('backs off with full jitter, never below the hint, within the cap', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      expect(
        backoffDelay(attempt, { baseMs: 100, maxMs: 2000 }, undefined, () => 0.999),
      ).toBeLessThan(Math.min(2000, 100 * 2 ** attempt));
      expect(backoffDelay(attempt, { baseMs: 100, maxMs: 2000 }, undefined, () => 0)).toBe(0);
      expect(backoffDelay(attempt, { baseMs: 100, maxMs: 2000 }, 700, () => 0)).toBe(700);
    }
  });

  it('reads a JWT expiry without verifying, and ignores garbage', async () => {
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(2_000_000_000)
      .sign(new Uint8Array(32));
    expect(tokenExpiry(t)).toBe(2_000_000_000_000);
    expect(tokenExpiry('not.a-jwt')).toBeUndefined();
    expect(tokenExpiry('')).toBeUndefined();
  });
});

describe('createGuardedWSClient against real servers', () => {
  it('makes exactly one attempt against a server answering 4001, and reports it once', async () => {
    const srv = await closingServer(4001, 'invalid credentials');
    const stops: number[] = [];
    let tickets = 0;
    const c = createGuardedWSClient({
      url: srv.url,
      WebSocket: WS,
      getTicket: async () => `t${++tickets}`,
      onAuthError: (s) => stops.push(s.code),
      backoff: { baseMs: 10, maxMs: 20 },
    });
    cleanups.push(() => c.close());
    await expect.poll(() => stops).toEqual([4001]);
    await sleep(400); // ample time for a storm with 10–20 ms backoff
    expect(srv.attempts()).toBe(1);
    expect(tickets).toBe(1);
    expect(c.stopped).toBe(true);
  });

  it('stops on 4030 (banned) and on 4003 (forbidden)', async () => {
    for (const code of [4030, 4003]) {
      const srv = await closingServer(code, 'no');
      const stops: number[] = [];
      const c = createGuardedWSClient({
        url: srv.url,
        WebSocket: WS,
        getToken: () => 'x',
        onAuthError: (s) => stops.push(s.code),
        backoff: { baseMs: 10, maxMs: 20 },
      });
      cleanups.push(() => c.close());
      await expect.poll(() => stops).toEqual([code]);
      await sleep(200);
      expect(srv.attempts()).toBe(1);
    }
  });

  it('keeps retrying with backoff after 4029, with a fresh ticket each time', async () => {
    const srv = await closingServer(4029, 'rate limit exceeded; retry in 50 ms');
    const tickets: string[] = [];
    const stops: number[] = [];
    const c = createGuardedWSClient({
      url: srv.url,
      WebSocket: WS,
      getTicket: async () => {
        tickets.push(`t${tickets.length}`);
        return tickets.at(-1)!;
      },
      onAuthError: (s) => stops.push(s.code),
      backoff: { baseMs: 10, maxMs: 100 },
    });
    cleanups.push(() => c.close());
    await expect.poll(() => srv.attempts(), { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    expect(stops).toEqual([]);
    expect(new Set(tickets).size).toBe(tickets.length);
  });

  it('after 4002 refreshes the token, reconnects, and the subscription resumes with no lost and no duplicate event', async () => {
    const secret = 'a-test-secret-that-is-long-enough-32b';
    const key = new TextEncoder().encode(secret);
    const sign = (exp: number) =>
      new SignJWT({ roles: ['user'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('zoe')
        .setExpirationTime(exp)
        .sign(key);
    const guard = createGuard({
      origins: ['http://127.0.0.1'],
      jwt: { algorithms: ['HS256'], secret, clockToleranceSec: 0 },
      credentials: { firstMessage: true },
      permissions: { roles: { user: ['chat.*'] } },
      messages: { passthrough: ['PING', 'PONG'] },
      limits: { connectRate: false },
      audit: false,
    });
    const rooms = new Rooms();
    const bridge = createTRPCBridge({ router: makeRouter(rooms), guard });
    const server = await startHarness(guard, bridge);
    cleanups.push(() => server.close());
    // The guard's own timer closes the connection with 4002 at the token's expiry. An event is
    // posted inside the gap (the refresh is slow on purpose) and must arrive after the resume.
    let refreshes = 0;
    const closes: number[] = [];
    const first = Math.floor(Date.now() / 1000) + 2;
    const c = createGuardedWSClient({
      url: `${server.url}/ws`,
      WebSocket: WS,
      getToken: () => sign(first),
      refreshToken: async () => {
        refreshes++;
        await sleep(300);
        return sign(Math.floor(Date.now() / 1000) + 600);
      },
      onClose: (e) => {
        closes.push(e.code);
        if (e.code === 4002) rooms.post({ room: 'exp', user: 'zoe', text: 'during' });
      },
      backoff: { baseMs: 10, maxMs: 50 },
    });
    cleanups.push(() => c.close());
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: c.client })] });
    const seen: string[] = [];
    const sub = trpc.chat.onMessage.subscribe(
      { room: 'exp' },
      { onData: (e) => seen.push((e as unknown as { data: { text: string } }).data.text) },
    );
    cleanups.push(() => sub.unsubscribe());
    await trpc.chat.send.mutate({ room: 'exp', text: 'before' });
    await expect.poll(() => seen).toEqual(['before']);
    await expect.poll(() => closes, { timeout: 6000 }).toContain(4002);
    await expect.poll(() => refreshes, { timeout: 5000 }).toBe(1);
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(['before', 'during']);
    await trpc.chat.send.mutate({ room: 'exp', text: 'after' });
    await expect.poll(() => seen).toEqual(['before', 'during', 'after']);
  });
});
