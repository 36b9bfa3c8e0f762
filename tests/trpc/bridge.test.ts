import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createGuard, type Guard } from '../../src/mod.ts';
import { createTRPCBridge, type TRPCBridge } from '../../src/trpc.ts';
import { type AppRouter, makeRouter, Rooms } from './fixture-router.ts';
import { type Harness, startHarness } from './harness.ts';

const secret = 'a-test-secret-that-is-long-enough-32b';
const key = new TextEncoder().encode(secret);
const sign = (sub: string, roles: string[], exp = '10m') =>
  new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(exp)
    .sign(key);

let guard: Guard;
let bridge: TRPCBridge;
let server: Harness;
const rooms = new Rooms();

beforeAll(async () => {
  guard = createGuard({
    origins: ['http://127.0.0.1'],
    jwt: { algorithms: ['HS256'], secret },
    tickets: true,
    credentials: { header: true, query: true, ticket: true, firstMessage: true },
    permissions: { roles: { user: ['chat.*'], reader: ['chat.read'], admin: ['*'] } },
    messages: { passthrough: ['PING', 'PONG'] },
    limits: { connectRate: false, maxConnectionsPerIp: false },
    audit: false,
  });
  bridge = createTRPCBridge({
    router: makeRouter(rooms),
    guard,
    maxSubscriptions: 3,
    maxBatchSize: 300,
  });
  server = await startHarness(guard, bridge);
});
afterAll(async () => {
  await server.close();
});

function client(token: () => Promise<string>) {
  const ws = createWSClient({
    url: `${server.url}/ws`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: async () => ({ token: await token() }),
    retryDelayMs: () => 50,
  });
  return { ws, trpc: createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] }) };
}

function raw(token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url}/ws?token=${token}`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function frames(ws: WebSocket, count: number): Promise<unknown[]> {
  const out: unknown[] = [];
  return new Promise((resolve) => {
    ws.on('message', (d) => {
      const text = d.toString();
      out.push(text === 'PONG' ? text : JSON.parse(text));
      if (out.length === count) resolve(out);
    });
  });
}

describe('tRPC over the guarded socket, with the real @trpc/client', () => {
  it('serves typed queries and mutations with the principal from the handshake', async () => {
    const { ws, trpc } = client(() => sign('alice', ['user']));
    const me = await trpc.whoami.query();
    expect(me).toEqual({ sub: 'alice', roles: ['user'], ip: '127.0.0.1' });
    expect(await trpc.echo.query({ n: 42 })).toBe(42);
    expect(typeof (await trpc.chat.send.mutate({ room: 'r1', text: 'hi' }))).toBe('number');
    ws.close();
  });

  it('refuses a procedure whose meta permission the principal lacks (FORBIDDEN)', async () => {
    const { ws, trpc } = client(() => sign('rita', ['reader']));
    const err = await trpc.chat.send.mutate({ room: 'r1', text: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
    const err2 = await trpc.admin.kick.mutate({ userId: 'bob' }).catch((e: unknown) => e);
    expect((err2 as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
    ws.close();
  });

  it('delivers tracked events, strips fields the event schema does not allow, and resumes from lastEventId', async () => {
    const { ws, trpc } = client(() => sign('bob', ['user']));
    const got: { id: string; data: Record<string, unknown> }[] = [];
    const done = new Promise<void>((resolve) => {
      const sub = trpc.chat.onMessage.subscribe(
        { room: 'tracked' },
        {
          onData: (e) => {
            got.push(e as unknown as { id: string; data: Record<string, unknown> });
            if (got.length === 3) {
              sub.unsubscribe();
              resolve();
            }
          },
        },
      );
    });
    for (const text of ['a', 'b', 'c']) await trpc.chat.send.mutate({ room: 'tracked', text });
    await done;
    expect(got.map((e) => e.data.text)).toEqual(['a', 'b', 'c']);
    for (const e of got) expect(e.data).not.toHaveProperty('secret');
    // Resume after the first event: exactly the two later ones.
    const resumed: string[] = [];
    await new Promise<void>((resolve) => {
      const sub = trpc.chat.onMessage.subscribe(
        { room: 'tracked', lastEventId: got[0]!.id },
        {
          onData: (e) => {
            resumed.push((e as unknown as { data: { text: string } }).data.text);
            if (resumed.length === 2) {
              sub.unsubscribe();
              resolve();
            }
          },
        },
      );
    });
    expect(resumed).toEqual(['b', 'c']);
    ws.close();
  });

  it('caps subscriptions per connection', async () => {
    const sock = await raw(await sign('carol', ['user']));
    const replies = frames(sock, 4);
    for (let id = 1; id <= 4; id++) {
      sock.send(
        JSON.stringify({
          id,
          method: 'subscription',
          params: { path: 'chat.onMessage', input: { room: `cap${id}` } },
        }),
      );
    }
    const all = (await replies) as {
      id: number;
      result?: { type: string };
      error?: { data: { code: string } };
    }[];
    expect(all.filter((m) => m.result?.type === 'started')).toHaveLength(3);
    const refused = all.find((m) => m.error);
    expect(refused?.id).toBe(4);
    expect(refused?.error?.data.code).toBe('TOO_MANY_REQUESTS');
    sock.close();
  });

  it('counts a batch of N calls as N requests against the message rate', async () => {
    // Budget: burst 200 messages. Two frames of 120 calls each: the first fits, the second
    // would be 240 requests in total and is refused as a whole, although it is only 2 frames.
    // Every call of the refused batch gets its own error (a client matches answers by id).
    const sock = await raw(await sign('dave', ['user']));
    const replies = frames(sock, 240);
    const batch = (from: number) =>
      Array.from({ length: 120 }, (_, i) => ({
        id: from + i,
        method: 'query',
        params: { path: 'echo', input: { n: i } },
      }));
    sock.send(JSON.stringify(batch(1)));
    sock.send(JSON.stringify(batch(1001)));
    const all = (await replies) as {
      id: number | null;
      result?: unknown;
      error?: { data: { code: string } };
    }[];
    expect(all.filter((m) => m.result !== undefined)).toHaveLength(120);
    const refused = all.filter((m) => m.error);
    expect(refused.map((m) => m.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      batch(1001).map((c) => c.id),
    );
    for (const m of refused) expect(m.error?.data.code).toBe('TOO_MANY_REQUESTS');
    sock.close();
  });

  it('answers malformed calls with errors and never crashes: id null, unknown path, foreign subscription.stop, PING', async () => {
    const sock = await raw(await sign('erin', ['user']));
    const replies = frames(sock, 3);
    sock.send(
      JSON.stringify({ id: null, method: 'query', params: { path: 'echo', input: { n: 1 } } }),
    );
    sock.send(
      JSON.stringify({ id: 7, method: 'query', params: { path: 'nope.nothing', input: null } }),
    );
    sock.send(JSON.stringify({ id: 999, method: 'subscription.stop' }));
    sock.send('PING');
    const all = (await replies) as (
      | string
      | { id: number | null; error?: { data: { code: string } } }
    )[];
    expect(all).toContain('PONG');
    const objs = all.filter(
      (m): m is { id: number | null; error?: { data: { code: string } } } => typeof m === 'object',
    );
    expect(objs.find((m) => m.id === null)?.error?.data.code).toBe('PARSE_ERROR');
    expect(objs.find((m) => m.id === 7)?.error?.data.code).toBe('NOT_FOUND');
    sock.close();
  });

  it('stops a live subscription with FORBIDDEN when an in-band refresh drops the permission', async () => {
    const { ws, trpc } = client(() => sign('frank', ['user']));
    const errors: string[] = [];
    const started = new Promise<void>((resolve) => {
      trpc.chat.onMessage.subscribe(
        { room: 'reauth' },
        {
          onStarted: () => resolve(),
          onError: (e) => errors.push((e as TRPCClientError<AppRouter>).data?.code ?? 'unknown'),
        },
      );
    });
    await started;
    // Same subject, but the new token no longer grants chat.read.
    await trpc.session.refresh.mutate({ token: await sign('frank', []) });
    await expect.poll(() => errors).toEqual(['FORBIDDEN']);
    ws.close();
  });

  it('refuses a refresh token for another subject', async () => {
    const { ws, trpc } = client(() => sign('gina', ['user']));
    const err = await trpc.session.refresh
      .mutate({ token: await sign('mallory', ['admin']) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    expect((await trpc.whoami.query()).sub).toBe('gina');
    ws.close();
  });

  it("sends tRPC's reconnect notification to every open connection", async () => {
    const a = await raw(await sign('rhea', ['user']));
    const b = await raw(await sign('sam', ['user']));
    const got = Promise.all([frames(a, 1), frames(b, 1)]);
    bridge.broadcastReconnect();
    expect(await got).toEqual([
      [{ id: null, method: 'reconnect' }],
      [{ id: null, method: 'reconnect' }],
    ]);
    a.close();
    b.close();
  });

  it('keeps serving another client while one subscription bursts', async () => {
    const burster = await raw(await sign('hank', ['user']));
    let events = 0;
    burster.on('message', () => {
      events++;
    });
    burster.send(
      JSON.stringify({
        id: 1,
        method: 'subscription',
        params: { path: 'chat.burst', input: { n: 100_000 } },
      }),
    );
    const { ws, trpc } = client(() => sign('ivy', ['user']));
    await expect.poll(() => events).toBeGreaterThan(100);
    expect(await trpc.echo.query({ n: 5 })).toBe(5);
    // The other client was answered before the burst ran to completion.
    expect(events).toBeLessThan(100_000);
    burster.close();
    ws.close();
  });
});
