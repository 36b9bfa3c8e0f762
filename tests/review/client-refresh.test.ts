/**
 * Review of the client helper (`wsguard/client`) against what a server hands it. The proactive
 * refresh is armed with `setTimeout(exp - now - refreshBeforeMs)`; timers hold at most 2^31-1 ms
 * (24.8 days), and a longer delay fires at once (Node: after 1 ms with a TimeoutOverflowWarning;
 * browsers alike). A token valid for 30 days then refreshes in a tight loop, each turn a call to
 * the token service and an in-band refresh on the socket.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { banEnd, createGuardedWSClient, retryHintMs } from '../../src/client.ts';

const WS = WebSocket as unknown as typeof globalThis.WebSocket;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An unsigned token shape with `exp` (the client reads it without verifying; the server verifies). */
const tokenWithExp = (expSec: number): string => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', exp: expSec })}.sig`;
};

async function acceptingServer(): Promise<string> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.close(() => r());
      }),
  );
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('client helper against long lifetimes (review)', () => {
  it('found in review: a 30-day token makes the proactive refresh loop without pause', async () => {
    const url = await acceptingServer();
    let refreshes = 0;
    let inBand = 0;
    const exp = () => Math.floor(Date.now() / 1000) + 30 * 86_400;
    const c = createGuardedWSClient({
      url,
      WebSocket: WS,
      getToken: () => tokenWithExp(exp()),
      refreshToken: async () => {
        refreshes++;
        return tokenWithExp(exp());
      },
      refreshInBand: async () => {
        inBand++;
      },
    });
    cleanups.push(() => c.close());
    // Bounded: watch for one second, stop early once the loop is evident.
    for (let i = 0; i < 20 && refreshes < 50; i++) await sleep(50);
    await c.close();
    // Nothing is due for 30 days: not one refresh in this second.
    expect({ refreshes, inBand }).toEqual({ refreshes: 0, inBand: 0 });
  });

  it('holds: server hints are bounded (retry hints capped by the backoff, huge dates refused)', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryHintMs('retry in 999999999 ms', now)).toBe(999_999_999);
    expect(retryHintMs('retry in 9999999999 ms', now)).toBeUndefined(); // ten digits: no hint
    expect(banEnd('banned until +275760-09-13T00:00:00.000Z')).toBeUndefined();
    expect(banEnd('banned until 2026-13-45T99:99:99.000Z')).toBeUndefined();
    expect(banEnd(`banned until ${'9'.repeat(200)}`)).toBeUndefined();
  });
});
