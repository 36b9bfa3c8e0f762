/**
 * How the bridge answers a frame the guard refused (`bridge.refused`, wired by `trpcHooks`): one
 * tRPC error per call id, read defensively. In process, with a recording socket: the wire-level
 * behaviour with the real client is in `suite.ts`.
 */
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

async function setup(maxBytes = 64 * 1024) {
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
  const bridge = createTRPCBridge({ router: makeRouter(new Rooms()), guard, onError: () => {} });
  const sent: Sent[] = [];
  const session = bridge.open(
    { send: (data) => sent.push(JSON.parse(data) as Sent), close: () => {} },
    connection,
  );
  return { bridge, session, sent, close: () => guard.close(connection) };
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

  it('answers at most 1,000 ids, skips odd ids and subscription.stop, and says nothing to a refused PING', async () => {
    const { bridge, session, sent, close } = await setup(1024 * 1024);
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
    sent.length = 0;
    bridge.refused(session, RATE, 'PING');
    expect(sent).toEqual([]);
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
