/**
 * The guard as crossws hooks, driven in-process with fake peers: what each hook answers, the
 * per-peer order of frames under async decisions, and that no failure escapes.
 */
import type { Message, Peer } from 'crossws';
import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import type { GuardedHooks, GuardHooksOptions } from '../../src/guard/types.ts';
import { type AuditEvent, createGuard, type GuardOptions } from '../../src/mod.ts';
import { guardHooks } from '../../src/transport/hooks.ts';
import { setClient } from '../../src/transport/slots.ts';

const SECRET = 'hooks-test-secret-0123456789-0123456789';
const ORIGIN = 'https://app.example.com';

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

function handshakeRequest(headers: Record<string, string> = {}, path = '/ws'): Request {
  const request = new Request(`http://localhost${path}`, {
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...headers,
    },
  });
  setClient(request, { ip: '192.0.2.1', secure: false });
  return request;
}

interface FakePeer {
  readonly peer: Peer;
  readonly sent: string[];
  readonly closes: (number | string)[];
  buffered: number;
}

function fakePeer(context: Record<string, unknown>): FakePeer {
  const fake: FakePeer = { peer: undefined as unknown as Peer, sent: [], closes: [], buffered: 0 };
  const peer = {
    context,
    get bufferedAmount() {
      return fake.buffered;
    },
    send(data: unknown) {
      fake.sent.push(String(data));
      return 0;
    },
    close(code: number) {
      fake.closes.push(code);
    },
    terminate() {
      fake.closes.push('terminate');
    },
  };
  (fake as { peer: Peer }).peer = peer as unknown as Peer;
  return fake;
}

const msg = (data: string): Message =>
  ({ rawData: data, uint8Array: () => new TextEncoder().encode(data) }) as unknown as Message;

const tick = () => new Promise((r) => setTimeout(r, 0));

function setup(
  app: GuardedHooks = {},
  options: Partial<GuardOptions> = {},
  hookOptions: GuardHooksOptions = {},
) {
  const errors: unknown[] = [];
  const guard = createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    audit: false,
    ...options,
  });
  const hooks = guardHooks(guard, app, { onError: (e) => errors.push(e), ...hookOptions });
  /** Run the upgrade hook; on accept, open a fake peer on the returned context. */
  const connect = async (request: Request) => {
    const result = await hooks.upgrade(request);
    if (result instanceof Response) return { response: result };
    const fake = fakePeer((result as { context: Record<string, unknown> }).context);
    await hooks.open(fake.peer);
    return { fake, result };
  };
  return { guard, hooks, errors, connect };
}

describe('guardHooks', () => {
  it('refuses with an HTTP response (status, fixed body, Retry-After) for http-mode rejections', async () => {
    const { connect } = setup({}, { limits: { connectRate: { limit: 1, windowMs: 60_000 } } });
    const foreign = await connect(handshakeRequest({ origin: 'https://evil.example' }));
    expect(foreign.response?.status).toBe(403);
    expect(await foreign.response?.text()).toBe('origin not allowed');
    // The foreign origin spent nothing: the one connection of the minute is still there.
    const first = await connect(handshakeRequest({ authorization: `Bearer ${await token('a')}` }));
    expect(first.response).toBeUndefined();
    const limited = await connect(
      handshakeRequest({ authorization: `Bearer ${await token('a')}` }),
    );
    expect(limited.response?.status).toBe(429);
    expect(Number(limited.response?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('accepts then closes at once for credential failures; the app never sees them', async () => {
    const open = vi.fn();
    const { connect, guard } = setup({ open });
    const { fake } = await connect(handshakeRequest({ origin: ORIGIN }));
    expect(fake?.closes).toEqual([4001]);
    expect(open).not.toHaveBeenCalled();
    expect(guard.stats().connections).toBe(0);
  });

  it('refuses a malformed handshake before the guard runs, and 500s without a client address', async () => {
    const { hooks, guard, errors } = setup();
    const bad = await hooks.upgrade(
      handshakeRequest({
        'sec-websocket-key': 'short',
        authorization: `Bearer ${await token('a')}`,
      }),
    );
    expect((bad as Response).status).toBe(400);
    const anonymous = new Request('http://localhost/ws', {
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    });
    expect(((await hooks.upgrade(anonymous)) as Response).status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(guard.stats().accepted).toBe(0);
  });

  it('delivers guarded frames with the parsed value; replies to refused ones; releases on close', async () => {
    const seen: unknown[] = [];
    const closed = vi.fn();
    const { connect, hooks, guard } = setup({
      message: (_peer, _m, { value, connection }) => {
        seen.push([value, connection.principal?.sub]);
      },
      close: closed,
    });
    const { fake } = await connect(
      handshakeRequest({ authorization: `Bearer ${await token('ann')}` }),
    );
    await hooks.message(fake!.peer, msg('{"a":1}'));
    await hooks.message(fake!.peer, msg('{"__proto__":{}}'));
    expect(seen).toEqual([[{ a: 1 }, 'ann']]);
    expect(JSON.parse(fake!.sent[0]!)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect(guard.stats().connections).toBe(1);
    await hooks.close(fake!.peer, { code: 1000 });
    await tick();
    expect(guard.stats().connections).toBe(0);
    expect(closed).toHaveBeenCalledOnce();
  });

  it('keeps frames in order behind an async decision (first-message auth)', async () => {
    const seen: unknown[] = [];
    const { connect, hooks } = setup(
      {
        message: (_p, _m, { value, authenticated }) =>
          void seen.push(authenticated ? 'auth' : value),
      },
      { credentials: { firstMessage: true } },
    );
    const { fake } = await connect(handshakeRequest());
    const auth = JSON.stringify({ type: 'auth', token: await token('bo') });
    await hooks.message(fake!.peer, msg(auth));
    await hooks.message(fake!.peer, msg('{"n":1}'));
    await hooks.message(fake!.peer, msg('{"n":2}'));
    await vi.waitFor(() => expect(seen).toEqual(['auth', { n: 1 }, { n: 2 }]));
    expect(fake!.closes).toEqual([]);
  });

  it('bounds the frames waiting behind an async decision (4029)', async () => {
    const { connect, hooks } = setup(
      {},
      { credentials: { firstMessage: true } },
      { maxQueuedMessages: 2 },
    );
    const { fake } = await connect(handshakeRequest());
    await hooks.message(
      fake!.peer,
      msg(JSON.stringify({ type: 'auth', token: await token('cy') })),
    );
    for (let i = 0; i < 3; i++) await hooks.message(fake!.peer, msg('{}'));
    expect(fake!.closes).toEqual([4029]);
  });

  it('closes with 1011 when the app hook throws or rejects, and reports it', async () => {
    const { connect, hooks, errors } = setup({
      message: (_p, _m, { value }) => {
        if ((value as { t: string }).t === 'throw') throw new Error('boom');
        return Promise.reject(new Error('async boom'));
      },
    });
    for (const t of ['throw', 'reject']) {
      const { fake } = await connect(
        handshakeRequest({ authorization: `Bearer ${await token('d')}` }),
      );
      await hooks.message(fake!.peer, msg(JSON.stringify({ t })));
      await tick();
      expect(fake!.closes).toEqual([1011]);
    }
    expect(errors).toHaveLength(2);
  });

  it('closes a peer whose send buffer passes the limit with 1013, and drops later sends', async () => {
    const { connect } = setup({}, {}, { maxBufferedBytes: 1024 });
    const { fake } = await connect(
      handshakeRequest({ authorization: `Bearer ${await token('e')}` }),
    );
    // The hooks watch `peer.send` itself: any send of the app is checked, not only replies.
    fake!.peer.send('x');
    fake!.buffered = 2048;
    fake!.peer.send('y');
    fake!.peer.send('z');
    expect(fake!.closes).toEqual([1013]);
    expect(fake!.sent).toEqual(['x', 'y']);
  });

  it('releases a handshake that never opened: abandon, open timeout, refused by the app', async () => {
    const { hooks, guard } = setup(
      {
        upgrade: (request) =>
          request.url.endsWith('refuse') ? new Response(null, { status: 409 }) : undefined,
      },
      {},
      { openTimeoutMs: 20 },
    );
    const bearer = { authorization: `Bearer ${await token('f')}` };
    const a = handshakeRequest(bearer);
    await hooks.upgrade(a);
    expect(guard.stats().connections).toBe(1);
    await hooks.abandon(a);
    await tick();
    expect(guard.stats().connections).toBe(0);
    await hooks.upgrade(handshakeRequest(bearer));
    await vi.waitFor(() => expect(guard.stats().connections).toBe(0));
    const refused = await hooks.upgrade(handshakeRequest(bearer, '/ws?refuse'));
    expect((refused as Response).status).toBe(409);
    await tick();
    expect(guard.stats().connections).toBe(0);
  });

  it('lets the guard close a peer itself (kick) and refuses new handshakes once stopped', async () => {
    const { connect, hooks, guard } = setup();
    const { fake } = await connect(
      handshakeRequest({ authorization: `Bearer ${await token('g')}` }),
    );
    expect(guard.kick('g')).toBe(1);
    expect(fake!.closes).toEqual([4003]);
    hooks.stop();
    const late = await hooks.upgrade(
      handshakeRequest({ authorization: `Bearer ${await token('h')}` }),
    );
    expect((late as Response).status).toBe(503);
  });

  describe('runtime refusals (runtimeViolations)', () => {
    const signals: GuardHooksOptions['runtimeViolations'] = {
      fromError: (e) =>
        String((e as Error).message).includes('too big')
          ? { reason: 'too_big', closeCode: 1009 }
          : undefined,
      fromClose: (code, reason) =>
        code === 1006 && reason === 'bad frame'
          ? { reason: 'protocol', closeCode: 1002 }
          : undefined,
    };
    const connectAs = async (hookOptions: GuardHooksOptions) => {
      const t = setup({}, {}, hookOptions);
      const { fake } = await t.connect(
        handshakeRequest({ authorization: `Bearer ${await token('ann')}` }),
      );
      return { ...t, fake: fake! };
    };

    it('records one refusal per socket, even when both the error and the close hook see it', async () => {
      const { hooks, guard, fake } = await connectAs({ runtimeViolations: signals });
      await hooks.error(fake.peer, new Error('message too big') as never);
      await hooks.close(fake.peer, { code: 1006, reason: 'bad frame' });
      await tick();
      expect(guard.stats().messageRejections).toEqual({ too_big: 1 });
      expect(guard.stats().connections).toBe(0);
      // The connection ends with the runtime's code, not the 1006 it reported.
      expect(guard.stats().closes).toEqual({ '1009': 1 });
    });

    it('records nothing for a socket the guard was closing itself, or a plain disconnect', async () => {
      const a = await connectAs({ runtimeViolations: signals });
      a.guard.kick('ann');
      await a.hooks.close(a.fake.peer, { code: 1006, reason: 'bad frame' });
      const b = await connectAs({ runtimeViolations: signals });
      await b.hooks.close(b.fake.peer, { code: 1006, reason: '' });
      await tick();
      expect(a.guard.stats().messageRejections).toEqual({});
      expect(b.guard.stats().messageRejections).toEqual({});
      expect(a.guard.stats().connections + b.guard.stats().connections).toBe(0);
    });

    it('a watcher set up at open reports a refusal before the close; a failing one only loses it', async () => {
      let reportIt: ((v: { reason: 'protocol'; closeCode: number }) => void) | undefined;
      const a = await connectAs({
        runtimeViolations: {
          watch: (_peer, r) => {
            reportIt = r;
          },
        },
      });
      reportIt!({ reason: 'protocol', closeCode: 1006 });
      reportIt!({ reason: 'protocol', closeCode: 1006 }); // once per socket
      await a.hooks.close(a.fake.peer, {});
      await tick();
      expect(a.guard.stats().messageRejections).toEqual({ protocol: 1 });
      expect(a.guard.stats().connections).toBe(0);

      const b = await connectAs({
        runtimeViolations: {
          watch: () => {
            throw new Error('watch bug');
          },
        },
      });
      expect(b.fake.closes).toEqual([]); // the socket stays open
      expect(b.errors.map(String)).toContain('Error: watch bug');
      await b.hooks.close(b.fake.peer, { code: 1000 });
      await tick();
      expect(b.guard.stats().connections).toBe(0);
    });

    it('a classifier that throws is reported, and the connection is still released', async () => {
      const { hooks, guard, fake, errors } = await connectAs({
        runtimeViolations: {
          fromClose: () => {
            throw new Error('classifier bug');
          },
        },
      });
      await hooks.close(fake.peer, { code: 1006, reason: 'x' });
      await tick();
      expect(guard.stats().connections).toBe(0);
      expect(errors.map(String)).toContain('Error: classifier bug');
    });
  });
});

describe('close attribution (who closed: guard, app or client)', () => {
  const audited = (events: AuditEvent[]) =>
    events
      .filter((e) => e.type === 'connection.closed')
      .map((e) => [e.closeCode, e.detail?.['by']]);
  const withAudit = (app: GuardedHooks = {}) => {
    const events: AuditEvent[] = [];
    return { events, ...setup(app, { audit: (e) => events.push(e) }) };
  };
  const bearer = async (sub: string) =>
    handshakeRequest({ authorization: `Bearer ${await token(sub)}` });

  it('a client closing with the guard’s own codes is counted and audited as the client', async () => {
    const { connect, hooks, guard, events } = withAudit();
    for (const code of [4030, 4030, 4003, 1008, 3000, 4500, 1000]) {
      const { fake } = await connect(await bearer(`c${code}`));
      await hooks.close(fake!.peer, { code, reason: 'banned until 2999-01-01T00:00:00.000Z' });
    }
    const { fake } = await connect(await bearer('silent'));
    await hooks.close(fake!.peer, {}); // no close frame at all
    await tick();
    expect(guard.stats().closes).toEqual({});
    expect(guard.stats().clientCloses).toEqual({
      private: 4,
      error: 1,
      registered: 1,
      normal: 1,
      no_status: 1,
    });
    expect(guard.metrics()).not.toMatch(/^wsguard_closes_total\{/m);
    expect(audited(events)).toEqual([
      [4030, 'client'],
      [4030, 'client'],
      [4003, 'client'],
      [1008, 'client'],
      [3000, 'client'],
      [4500, 'client'],
      [1000, 'client'],
      [1005, 'client'],
    ]);
  });

  it('the guard’s closes keep their code even when the client’s echo says otherwise', async () => {
    const { connect, hooks, guard, events } = withAudit();
    const { fake } = await connect(await bearer('k'));
    guard.kick('k');
    expect(fake!.closes).toEqual([4003]);
    await hooks.close(fake!.peer, { code: 4999 }); // whatever the client answers
    await tick();
    expect(guard.stats().closes).toEqual({ '4003': 1 });
    expect(guard.stats().clientCloses).toEqual({});
    expect(audited(events)).toEqual([[4003, 'guard']]);
  });

  it('a close the app starts itself is the app’s, not the client’s nor the guard’s', async () => {
    const { connect, hooks, guard, events } = withAudit({
      message(peer) {
        peer.close(4500, 'app done');
      },
    });
    const { fake } = await connect(await bearer('a'));
    await hooks.message(fake!.peer, msg('{"bye":true}'));
    expect(fake!.closes).toEqual([4500]);
    await hooks.close(fake!.peer, { code: 4030 }); // the client's echo, or its own code
    await tick();
    expect(guard.stats().closes).toEqual({});
    expect(guard.stats().clientCloses).toEqual({});
    expect(guard.stats().appCloses).toEqual({ private: 1 });
    expect(audited(events)).toEqual([[4500, 'app']]);
  });

  it('the end of a shutdown (terminateAll) is the guard’s', async () => {
    const { connect, hooks, guard, events } = withAudit();
    const { fake } = await connect(await bearer('s'));
    hooks.terminateAll();
    expect(fake!.closes).toEqual(['terminate']);
    await hooks.close(fake!.peer, { code: 1006 });
    await tick();
    expect(guard.stats().closes).toEqual({ '1001': 1 });
    expect(audited(events)).toEqual([[1001, 'guard']]);
  });
});
