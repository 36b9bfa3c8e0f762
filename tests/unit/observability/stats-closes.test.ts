/**
 * Close codes a client chooses must not reach the guard's own series (issue 13): real sockets on
 * loopback through the Node adapter, real `ws` clients closing with codes of their choosing. The
 * guard's, the app's and the client's closes are told apart in the stats, the Prometheus text
 * and the audit (`detail.by`), and every label stays in a fixed set.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serve } from '../../../adapters/node.ts';
import { type AuditEvent, createGuard, type Guard } from '../../../src/mod.ts';
import type { GuardedServer } from '../../../src/transport/serve.ts';

const SECRET = 'stats-closes-secret-0123456789-0123456789';

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

/** Wait for `done`, polling, for at most `ms`; every wait in this file is bounded. */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let guard: Guard;
let server: GuardedServer;
const events: AuditEvent[] = [];
const closedEvents = () => events.filter((e) => e.type === 'connection.closed');

beforeAll(async () => {
  guard = createGuard({
    origins: ['https://app.example.com'],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    limits: { connectRate: false, maxConnectionsPerIp: 100, maxConnectionsPerUser: 100 },
    penalties: false,
    audit: (e) => events.push(e),
  });
  server = await serve({
    guard,
    hooks: {
      message(peer, message) {
        // The app closing a socket itself, with a code of its own.
        if (message.text() === '"bye"') peer.close(4500, 'app says bye');
      },
    },
  });
});

afterAll(async () => {
  await server.close();
});

/** Open a socket as `sub`, resolved once the server holds it. */
async function open(sub: string): Promise<WebSocket> {
  const before = guard.stats().connections;
  const ws = new WebSocket(server.url.replace('http', 'ws'), {
    headers: { authorization: `Bearer ${await token(sub)}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await until(() => guard.stats().connections > before);
  return ws;
}

/** Resolve once the server recorded `n` more closes. */
async function closes(n: number, act: () => void): Promise<void> {
  const before = closedEvents().length;
  act();
  await until(() => closedEvents().length >= before + n);
}

/** Every series (name and labels) in the Prometheus text. */
const series = (): string[] =>
  guard
    .metrics()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));

describe('close attribution over real sockets', () => {
  it('a client closing with 4030 ×10 and 3000–3999/4500 codes moves no guard series and adds no series', async () => {
    const baseline = series();
    for (let i = 0; i < 10; i++) {
      const ws = await open(`client-${i}`);
      await closes(1, () => ws.close(4030, 'banned until 2999-01-01T00:00:00.000Z'));
    }
    for (const code of [3000, 3001, 3999, 4500, 4001, 4999]) {
      const ws = await open(`client-${code}`);
      await closes(1, () => ws.close(code));
    }
    const snap = guard.stats();
    expect(snap.closes).toEqual({});
    expect(guard.metrics()).not.toMatch(/^wsguard_closes_total\{/m);
    expect(snap.clientCloses).toEqual({ private: 13, registered: 3 });
    // The only new series are the fixed client buckets, one per class seen.
    const added = series().filter((s) => !baseline.includes(s));
    expect(added.sort()).toEqual([
      'wsguard_client_closes_total{class="private"}',
      'wsguard_client_closes_total{class="registered"}',
    ]);
    const audited = closedEvents();
    expect(audited).toHaveLength(16);
    for (const e of audited) expect(e.detail?.['by']).toBe('client');
    expect(audited.slice(0, 10).map((e) => e.closeCode)).toEqual(Array(10).fill(4030));
  });

  it('counts the guard’s own closes by their code, and the app’s apart from both', async () => {
    const kicked = await open('kicked');
    await closes(1, () => guard.kick('kicked'));
    expect(guard.stats().closes).toEqual({ '4003': 1 });
    expect(closedEvents().at(-1)).toMatchObject({ closeCode: 4003, detail: { by: 'guard' } });
    expect(kicked.readyState).not.toBe(WebSocket.OPEN);

    // A frame over maxBytes is refused by `ws` itself (1009): the guard's limit, the guard's close.
    const big = await open('big');
    big.on('error', () => {});
    await closes(1, () => big.send('x'.repeat(guard.maxBytes + 1)));
    expect(guard.stats().closes).toEqual({ '4003': 1, '1009': 1 });
    expect(closedEvents().at(-1)?.detail?.['by']).toBe('guard');

    const leaving = await open('leaving');
    await closes(1, () => leaving.send('"bye"'));
    const snap = guard.stats();
    expect(snap.appCloses).toEqual({ private: 1 });
    expect(snap.closes).toEqual({ '4003': 1, '1009': 1 });
    expect(closedEvents().at(-1)).toMatchObject({ closeCode: 4500, detail: { by: 'app' } });
  });
});
