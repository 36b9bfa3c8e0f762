/**
 * How the bridge answers a frame the guard refused (`bridge.refused`, wired by `trpcHooks`): one
 * tRPC error per call id, read defensively. In process, with a recording socket: the wire-level
 * behaviour with the real client is in `suite.ts`.
 */
import { type AnyRouter, initTRPC } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { createGuard, type ErrorReply, type GuardConnection } from '../../src/mod.ts';
import { createTRPCBridge } from '../../src/trpc.ts';
import { makeRouter, Rooms } from '../trpc/fixture-router.ts';

const secret = 'a-test-secret-that-is-long-enough-32b';
const RATE: ErrorReply = {
  error: { code: 'TOO_MANY_REQUESTS', message: 'rate limit exceeded', retryAfterMs: 250 },
};
const INVALID: ErrorReply = {
  error: { code: 'BAD_REQUEST', message: 'message refused: too deep' },
};

type Sent = { id: unknown; error?: { message: string; data: { code: string } }; result?: unknown };

async function setup(
  maxBytes = 64 * 1024,
  maxBatchSize?: number,
  router: AnyRouter = makeRouter(new Rooms()),
) {
  const guard = createGuard({
    origins: ['http://127.0.0.1'],
    jwt: { algorithms: ['HS256'], secret },
    credentials: { header: true },
    permissions: { roles: { user: ['chat.*'] } },
    messages: { maxBytes },
    audit: false,
  });
  const { SignJWT } = await import('jose');
  const token = await new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(secret));
  const d = await guard.upgrade({
    request: new Request('http://127.0.0.1/ws', { headers: { authorization: `Bearer ${token}` } }),
    ip: '127.0.0.1',
  });
  if (!d.ok) throw new Error(d.reason);
  const connection: GuardConnection = d.connection;
  const bridge = createTRPCBridge({
    router,
    guard,
    onError: () => {},
    ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
  });
  const sent: Sent[] = [];
  const closed: { code: number | undefined; reason: string | undefined }[] = [];
  let bytesOut = 0;
  const session = bridge.open(
    {
      send: (data) => {
        bytesOut += new TextEncoder().encode(data).byteLength;
        sent.push(JSON.parse(data) as Sent);
      },
      close: (code, reason) => closed.push({ code, reason }),
    },
    connection,
  );
  return {
    bridge,
    session,
    sent,
    closed,
    bytesOut: () => bytesOut,
    close: () => guard.close(connection),
  };
}

const call = (id: unknown, method = 'query') => ({
  id,
  method,
  params: { path: 'echo', input: { n: 1 } },
});

describe('bridge.refused: answers a refused frame in tRPC terms', () => {
  it('answers every call of a batch with the reply code and the retry hint', async () => {
    const { bridge, session, sent, close } = await setup();
    bridge.refused(
      session,
      RATE,
      JSON.stringify([call(1), call('two', 'mutation'), call(3, 'subscription')]),
    );
    expect(sent.map((m) => m.id)).toEqual([1, 'two', 3]);
    for (const m of sent) {
      expect(m.error?.data.code).toBe('TOO_MANY_REQUESTS');
      expect(m.error?.message).toBe('rate limit exceeded; retry in 250 ms');
    }
    await close();
  });

  it('reads binary frames too, and answers a frame refused as too deep', async () => {
    const { bridge, session, sent, close } = await setup();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const frame = new TextEncoder().encode(
      JSON.stringify({ id: 9, method: 'query', params: { path: 'echo', input: deep } }),
    );
    bridge.refused(session, INVALID, frame);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.id).toBe(9);
    expect(sent[0]?.error?.data.code).toBe('BAD_REQUEST');
    await close();
  });

  it('sends one error without an id for a frame it cannot read: malformed, too deep to parse, or with no call', async () => {
    const { bridge, session, sent, close } = await setup();
    const hostile = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    for (const frame of [
      '{"id":1,',
      hostile,
      '{"id":{"x":1},"method":"query"}',
      '"text"',
      'null',
      '[]',
    ])
      bridge.refused(session, INVALID, frame);
    expect(sent).toHaveLength(6);
    for (const m of sent) {
      expect(m.id).toBeNull();
      expect(m.error?.data.code).toBe('BAD_REQUEST');
    }
    await close();
  });

  it('never parses a frame over the size limit', async () => {
    const { bridge, session, sent, close } = await setup(1024);
    const big = JSON.stringify([call(1), { pad: 'x'.repeat(2000) }]);
    bridge.refused(session, RATE, big);
    expect(sent.map((m) => m.id)).toEqual([null]);
    await close();
  });

  it('answers at most maxBatchSize ids, skips odd ids and subscription.stop, and says nothing to a refused PING', async () => {
    const { bridge, session, sent, closed, close } = await setup(1024 * 1024, 1000);
    bridge.refused(session, RATE, 'PING');
    expect(sent).toEqual([]);
    const calls = [
      { id: 'x'.repeat(300), method: 'query' },
      { id: Number.NaN, method: 'query' },
      { id: 5, method: 'subscription.stop' },
      { id: 6, method: 'connectionParams' },
      ...Array.from({ length: 1500 }, (_, i) => call(i + 100)),
    ];
    bridge.refused(session, RATE, JSON.stringify(calls));
    expect(sent).toHaveLength(1000);
    expect(sent[0]?.id).toBe(100);
    expect(sent.at(-1)?.id).toBe(1099);
    // The 500 calls left unanswered must not wait forever: the connection closes (4029, with
    // the retry hint), which fails them in the client.
    expect(closed).toEqual([{ code: 4029, reason: 'rate limit exceeded; retry in 250 ms' }]);
    await close();
  });

  it('answers no more calls of a refused frame than maxBatchSize (default 100), then closes; the session ends', async () => {
    const { bridge, session, sent, closed, close } = await setup();
    bridge.refused(session, RATE, JSON.stringify(Array.from({ length: 300 }, (_, i) => call(i))));
    expect(sent.map((m) => m.id)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(closed.map((c) => c.code)).toEqual([4029]);
    // Nothing more is answered or run on a connection the bridge is closing.
    bridge.refused(session, RATE, JSON.stringify(call(1)));
    bridge.message(session, call(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toHaveLength(100);
    expect(session.subscriptions).toBe(0);
    await close();
  });

  it('sends at most one reply plus twice the bytes of the refused frame, and closes when that leaves calls unanswered', async () => {
    const { bridge, session, sent, closed, bytesOut, close } = await setup(64 * 1024, 1000);
    // Bare calls: 25 bytes each, each answer about 120. The count cap (1000) is not what binds.
    const frame = JSON.stringify(
      Array.from({ length: 300 }, (_, i) => ({ id: i, method: 'query' })),
    );
    bridge.refused(session, RATE, frame);
    const firstReply = JSON.stringify(sent[0]).length;
    expect(bytesOut()).toBeLessThanOrEqual(firstReply + 2 * frame.length);
    expect(sent.length).toBeGreaterThan(10);
    expect(sent.length).toBeLessThan(300);
    expect(sent.map((m) => m.id)).toEqual(Array.from({ length: sent.length }, (_, i) => i));
    expect(closed.map((c) => c.code)).toEqual([4029]);
    await close();
  });

  it('answers a whole refused batch of calls as the unmodified client sends them, and keeps the connection', async () => {
    const { bridge, session, sent, closed, bytesOut, close } = await setup();
    // The shape of @trpc/client's calls: params with input and path (60+ bytes per call).
    const frame = JSON.stringify(
      Array.from({ length: 100 }, (_, i) => ({
        id: i + 1,
        method: 'query',
        params: { input: { n: i }, path: 'echo' },
      })),
    );
    bridge.refused(session, RATE, frame);
    expect(sent).toHaveLength(100);
    expect(closed).toEqual([]);
    expect(bytesOut()).toBeLessThanOrEqual(2 * frame.length + JSON.stringify(sent[0]).length);
    // Each reply carries no stack: the error was the bridge's own, its stack says nothing.
    for (const m of sent) expect(JSON.stringify(m)).not.toContain('stack');
    await close();
  });

  it('refuses an accepted batch over maxBatchSize with at most maxBatchSize replies, then closes with 1013', async () => {
    const { bridge, session, sent, closed, close } = await setup(64 * 1024, 20);
    const calls = Array.from({ length: 25 }, (_, i) => call(i + 1));
    bridge.message(session, calls, JSON.stringify(calls).length);
    expect(sent.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const m of sent) expect(m.error?.data.code).toBe('BAD_REQUEST');
    expect(closed.map((c) => c.code)).toEqual([1013]);
    await close();
  });

  it("serializes a refusal through the router's transformer, as every other reply", async () => {
    const wrap = {
      serialize: (v: unknown) => ({ wrapped: v }),
      deserialize: (v: unknown) => (v as { wrapped: unknown }).wrapped,
    };
    const t = initTRPC.create({ transformer: wrap });
    const { bridge, session, sent, close } = await setup(64 * 1024, undefined, t.router({}));
    bridge.refused(session, RATE, JSON.stringify([call(1), call(2)]));
    // A call the router cannot route is answered by the ordinary path: the same envelope.
    bridge.message(session, call(3));
    await expect.poll(() => sent.length).toBe(3);
    const [a, b, c] = sent as unknown as {
      id: number;
      error: { wrapped: { data: { code: string } } };
    }[];
    expect([a?.id, b?.id, c?.id]).toEqual([1, 2, 3]);
    expect(a?.error.wrapped.data.code).toBe('TOO_MANY_REQUESTS');
    expect(c?.error.wrapped.data.code).toBe('NOT_FOUND');
    await close();
  });

  it('does not end a live subscription whose id a refused frame repeats', async () => {
    const { bridge, session, sent, close } = await setup();
    bridge.message(session, {
      id: 1,
      method: 'subscription',
      params: { path: 'chat.onMessage', input: { room: 'r' } },
    });
    await expect.poll(() => sent.some((m) => m.id === 1)).toBe(true);
    sent.length = 0;
    bridge.refused(session, RATE, JSON.stringify([call(1, 'subscription'), call(2)]));
    expect(sent.map((m) => m.id)).toEqual([2]);
    expect(session.subscriptions).toBe(1);
    bridge.close(session);
    await close();
  });

  it('does nothing on a closed session', async () => {
    const { bridge, session, sent, close } = await setup();
    bridge.close(session);
    bridge.refused(session, RATE, JSON.stringify(call(1)));
    expect(sent).toEqual([]);
    await close();
  });
});
