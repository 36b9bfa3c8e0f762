import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  type Accept,
  type AuditEvent,
  CredentialError,
  createGuard,
  createMemoryStore,
  type ErrorStage,
  type Guard,
  type GuardConnection,
  type GuardOptions,
  isGuardError,
  type MessageDecision,
  type Reject,
  type Store,
} from '../../../src/mod.ts';
import { isMemoryStore } from '../../../src/store/memory.ts';

const ORIGIN = 'https://app.example.com';
const SECRET = 'g'.repeat(40);
const IP = '203.0.113.10';

/** Let fire-and-forget bookkeeping (penalties) finish. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

const sign = (sub: string, opts: { expSec?: number; claims?: Record<string, unknown> } = {}) =>
  new SignJWT({ roles: ['user'], ...opts.claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(opts.expSec ?? Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(SECRET));

interface Setup {
  guard: Guard;
  events: AuditEvent[];
  errors: { error: unknown; stage: ErrorStage }[];
  clock: { now: () => number; advance: (ms: number) => void };
  /** Upgrade with a bearer token for `sub` (or the given headers/URL). */
  upgrade: (opts?: {
    sub?: string;
    ip?: string;
    origin?: string | null;
    url?: string;
    headers?: Record<string, string>;
    noAuth?: boolean;
    secure?: boolean;
  }) => Promise<Accept | Reject>;
  connect: (sub?: string, ip?: string) => Promise<GuardConnection>;
}

function setup(extra: Partial<GuardOptions> = {}): Setup {
  // Near the real time: jose checks `exp` against the real clock.
  let t = Math.floor(Date.now() / 1000) * 1000;
  const clock = {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
  const events: AuditEvent[] = [];
  const errors: { error: unknown; stage: ErrorStage }[] = [];
  const guard = createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    audit: (e) => events.push(e),
    onError: (error, { stage }) => errors.push({ error, stage }),
    penalties: false,
    now: clock.now,
    ...extra,
  });
  const upgrade: Setup['upgrade'] = async (opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.origin !== null) headers['origin'] = opts.origin ?? ORIGIN;
    if (!opts.noAuth) headers['authorization'] = `Bearer ${await sign(opts.sub ?? 'alice')}`;
    return guard.upgrade({
      request: new Request(`http://localhost${opts.url ?? '/ws'}`, { headers }),
      ip: opts.ip ?? IP,
      ...(opts.secure !== undefined ? { secure: opts.secure } : {}),
    });
  };
  const connect = async (sub = 'alice', ip = IP): Promise<GuardConnection> => {
    const d = await upgrade({ sub, ip });
    if (!d.ok) throw new Error(`refused: ${d.reason}`);
    return d.connection;
  };
  return { guard, events, errors, clock, upgrade, connect };
}

function expectReject(
  d: Accept | Reject,
  want: Partial<Pick<Reject, 'reason' | 'status' | 'closeCode' | 'mode' | 'retryAfter'>>,
): Reject {
  expect(d.ok).toBe(false);
  if (d.ok) throw new Error('accepted');
  expect(d).toMatchObject(want);
  return d;
}

function expectAccept(d: Accept | Reject): GuardConnection {
  if (!d.ok) throw new Error(`refused: ${d.reason}`);
  return d.connection;
}

describe('upgrade pipeline order', () => {
  it('ban comes first: a banned IP is told "banned" even while flooding, and its attempts do not consume the rate budget', async () => {
    const { guard, upgrade } = setup({
      limits: { connectRate: { limit: 1, windowMs: 60_000, burst: 1 } },
    });
    await guard.ban('ip', IP);
    for (let i = 0; i < 3; i++) expectReject(await upgrade(), { reason: 'banned', status: 403 });
    await guard.unban('ip', IP);
    expectAccept(await upgrade());
    expectReject(await upgrade(), { reason: 'connect_rate' });
  });

  it("origin comes before the connection rate: a flood from a foreign origin never spends the address's budget", async () => {
    // A browser sends the page's Origin: a hostile page opening sockets through its visitors'
    // browsers must not use up (or get banned) their address.
    const { upgrade } = setup({
      limits: { connectRate: { limit: 1, windowMs: 60_000, burst: 2 } },
    });
    const evil = 'https://evil.example.net';
    for (let i = 0; i < 10; i++)
      expectReject(await upgrade({ origin: evil }), {
        reason: 'origin',
        status: 403,
        mode: 'http',
      });
    expectAccept(await upgrade());
    expectAccept(await upgrade());
    expectReject(await upgrade(), { reason: 'connect_rate', status: 429, retryAfter: 60 });
  });

  it('origin comes before credentials: a foreign origin without credentials is refused at the HTTP upgrade with 403', async () => {
    const { upgrade } = setup();
    expectReject(await upgrade({ origin: 'https://evil.example.net', noAuth: true }), {
      reason: 'origin',
      status: 403,
      closeCode: 4003,
      mode: 'http',
      retryAfter: undefined,
    });
  });

  it('missing credentials from an allowed origin: accept-then-close with 4001', async () => {
    const { upgrade } = setup();
    expectReject(await upgrade({ noAuth: true }), {
      reason: 'credentials_missing',
      status: 401,
      closeCode: 4001,
      mode: 'close',
    });
  });

  it('invalid and expired tokens: 4001 and 4002, accept-then-close', async () => {
    const { upgrade } = setup();
    expectReject(
      await upgrade({ noAuth: true, headers: { authorization: 'Bearer abc.def.ghi' } }),
      {
        reason: 'credentials_invalid',
        status: 401,
        closeCode: 4001,
        mode: 'close',
      },
    );
    const expired = await sign('alice', { expSec: Math.floor(Date.now() / 1000) - 3600 });
    expectReject(await upgrade({ noAuth: true, headers: { authorization: `Bearer ${expired}` } }), {
      reason: 'expired',
      status: 401,
      closeCode: 4002,
      mode: 'close',
    });
  });

  it('verification comes before caps: an invalid token at a full IP cap is told "invalid", not "cap"', async () => {
    const { upgrade } = setup({ limits: { maxConnectionsPerIp: 1 } });
    expectAccept(await upgrade());
    expectReject(await upgrade({ noAuth: true, headers: { authorization: 'Bearer nope' } }), {
      reason: 'credentials_invalid',
    });
    expectReject(await upgrade(), { reason: 'ip_cap' });
  });

  it('a valid upgrade yields the principal, ids and metadata', async () => {
    const { upgrade, clock } = setup();
    const c = expectAccept(
      await upgrade({ sub: 'alice', headers: { 'user-agent': 'test-agent/1.0' } }),
    );
    expect(c.principal?.sub).toBe('alice');
    expect(c.ip).toBe(IP);
    expect(c.origin).toBe(ORIGIN);
    expect(c.userAgent).toBe('test-agent/1.0');
    expect(c.connectedAt).toBe(clock.now());
    expect(c.expiresAt).toBe(c.principal?.expiresAt);
    expect(c.id).toMatch(/^[A-Za-z0-9_-]{8,}$/);
  });
});

describe('transport and path binding', () => {
  it('requireSecure refuses a non-secure handshake with 403 and accepts a secure one', async () => {
    const { upgrade } = setup({ requireSecure: true });
    expectReject(await upgrade(), { reason: 'insecure_transport', status: 403, mode: 'http' });
    expectReject(await upgrade({ secure: false }), { reason: 'insecure_transport' });
    expectAccept(await upgrade({ secure: true }));
  });

  it("pathBinding '/ws/:sub' accepts only the principal's own path", async () => {
    const { upgrade } = setup({ pathBinding: '/ws/:sub' });
    expectAccept(await upgrade({ sub: 'alice', url: '/ws/alice' }));
    expectAccept(await upgrade({ sub: 'alice', url: '/ws/al%69ce?x=1' }));
    for (const url of [
      '/ws/bob',
      '/ws',
      '/ws/',
      '/ws/alice/extra',
      '/other/alice',
      '/ws/%E0%A4%A',
    ]) {
      expectReject(await upgrade({ sub: 'alice', url }), {
        reason: 'path_mismatch',
        status: 403,
        closeCode: 4003,
        mode: 'close',
      });
    }
  });
});

describe('connection caps', () => {
  it('per-IP cap: refused with 429/4008 (mode close) and a retry hint; other IPs unaffected', async () => {
    const { upgrade } = setup({ limits: { maxConnectionsPerIp: 2 } });
    expectAccept(await upgrade({ sub: 'a' }));
    expectAccept(await upgrade({ sub: 'b' }));
    expectReject(await upgrade({ sub: 'c' }), {
      reason: 'ip_cap',
      status: 429,
      closeCode: 4008,
      mode: 'close',
      retryAfter: 5,
    });
    expectAccept(await upgrade({ sub: 'c', ip: '203.0.113.11' }));
  });

  it('per-user cap: refused with 429/4008 (mode close) across IPs', async () => {
    const { upgrade } = setup({ limits: { maxConnectionsPerUser: 2 } });
    expectAccept(await upgrade({ ip: '10.0.0.1' }));
    expectAccept(await upgrade({ ip: '10.0.0.2' }));
    expectReject(await upgrade({ ip: '10.0.0.3' }), {
      reason: 'user_cap',
      status: 429,
      closeCode: 4008,
      mode: 'close',
    });
    expectAccept(await upgrade({ sub: 'bob', ip: '10.0.0.3' }));
  });

  it('releases leases on close(), so a new connection fits again', async () => {
    const { guard, upgrade } = setup({
      limits: { maxConnectionsPerIp: 1, maxConnectionsPerUser: 1 },
    });
    const c = expectAccept(await upgrade());
    expectReject(await upgrade(), { reason: 'ip_cap' });
    await guard.close(c);
    const again = expectAccept(await upgrade());
    expectReject(await upgrade({ ip: '10.9.9.9' }), { reason: 'user_cap' });
    await guard.close(again);
    expectAccept(await upgrade({ ip: '10.9.9.9' }));
  });

  it('a refusal by the user cap gives back the IP lease it took', async () => {
    const { upgrade } = setup({ limits: { maxConnectionsPerIp: 3, maxConnectionsPerUser: 1 } });
    expectAccept(await upgrade({ sub: 'alice' }));
    for (let i = 0; i < 3; i++)
      expectReject(await upgrade({ sub: 'alice' }), { reason: 'user_cap' });
    expectAccept(await upgrade({ sub: 'bob' }));
    expectAccept(await upgrade({ sub: 'carol' }));
    expectReject(await upgrade({ sub: 'dave' }), { reason: 'ip_cap' });
  });

  it('close() is idempotent: counters, leases and the audit see one close', async () => {
    const { guard, events, upgrade } = setup({ limits: { maxConnectionsPerIp: 2 } });
    const a = expectAccept(await upgrade({ sub: 'a' }));
    const b = expectAccept(await upgrade({ sub: 'b' }));
    await guard.close(a, 1000);
    await guard.close(a, 1000);
    await guard.close(a);
    expect(a.closed).toBe(true);
    expect(guard.stats().connections).toBe(1);
    // An unattributed code is the client's: only the guard's own closes count under `closes`.
    expect(guard.stats().clientCloses).toEqual({ normal: 1 });
    expect(guard.stats().closes).toEqual({});
    expect(events.filter((e) => e.type === 'connection.closed')).toHaveLength(1);
    // Exactly one slot came back: b still holds the other one.
    expectAccept(await upgrade({ sub: 'c' }));
    expectReject(await upgrade({ sub: 'd' }), { reason: 'ip_cap' });
    await guard.close(b);
  });

  it('a message on a closed connection is refused', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    await guard.close(c);
    expect(await guard.message(c, '{}')).toMatchObject({ action: 'close', reason: 'internal' });
  });

  it('single-session mode evicts the oldest connection with 4008 instead of refusing the new one', async () => {
    const { guard, events, upgrade } = setup({
      limits: { maxConnectionsPerUser: 2, singleSession: true },
    });
    const terminated: { id: string; code: number; reason: string }[] = [];
    const attach = (c: GuardConnection) =>
      guard.attach(c, (code, reason) => terminated.push({ id: c.id, code, reason }));
    const first = expectAccept(await upgrade({ ip: '10.0.0.1' }));
    attach(first);
    const second = expectAccept(await upgrade({ ip: '10.0.0.2' }));
    attach(second);
    const third = expectAccept(await upgrade({ ip: '10.0.0.3' }));
    attach(third);
    expect(terminated).toEqual([
      { id: first.id, code: 4008, reason: 'replaced by a newer session' },
    ]);
    expect(events.filter((e) => e.type === 'connection.evicted')).toMatchObject([
      { connectionId: first.id, userId: 'alice', reason: 'single_session' },
    ]);
    // The adapter closes the evicted socket; the next newcomer evicts the next oldest.
    await guard.close(first, 4008);
    expectAccept(await upgrade({ ip: '10.0.0.4' }));
    expect(terminated.map((t) => t.id)).toEqual([first.id, second.id]);
  });
});

describe('first-message authentication', () => {
  const firstMessage = (extra: Partial<GuardOptions> = {}) =>
    setup({ credentials: { header: true, firstMessage: { timeoutMs: 5000 } }, ...extra });
  const params = (data: Record<string, unknown>) =>
    JSON.stringify({ method: 'connectionParams', data });

  it('accepts the socket pending, then authenticates with connectionParams {token}', async () => {
    const { guard, clock, events, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    expect(c.principal).toBeUndefined();
    expect(c.authDeadline).toBe(clock.now() + 5000);
    const text = params({ token: await sign('alice') });
    const d = await guard.message(c, text);
    expect(d).toEqual({ action: 'deliver', value: JSON.parse(text), authenticated: true });
    expect(c.principal?.sub).toBe('alice');
    expect(c.authDeadline).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['connection.accepted', 'connection.authenticated']);
    expect(await guard.message(c, '{"hello":1}')).toEqual({
      action: 'deliver',
      value: { hello: 1 },
    });
    expect(guard.stats().users).toBe(1);
  });

  it('authenticates with a one-time ticket in {"type":"auth","ticket":…}', async () => {
    const { guard, upgrade } = firstMessage({ tickets: true });
    const owner = expectAccept(await upgrade({ sub: 'alice' }));
    const { ticket } = await guard.issueTicket(owner.principal!, { origin: ORIGIN });
    const c = expectAccept(await upgrade({ noAuth: true }));
    const d = await guard.message(c, JSON.stringify({ type: 'auth', ticket }));
    expect(d).toMatchObject({ action: 'deliver', authenticated: true });
    expect(c.principal?.sub).toBe('alice');
  });

  it('a bad token in the first message closes with 4001', async () => {
    const { guard, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    expect(await guard.message(c, params({ token: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' }))).toEqual({
      action: 'close',
      reason: 'credentials_invalid',
      code: 4001,
      message: 'invalid credentials',
    });
    expect(c.principal).toBeUndefined();
  });

  it('a first message without a credential closes with 4001', async () => {
    const { guard, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    expect(await guard.message(c, params({}))).toMatchObject({
      action: 'close',
      reason: 'credentials_missing',
      code: 4001,
    });
    const c2 = expectAccept(await upgrade({ noAuth: true }));
    expect(await guard.message(c2, '{"method":"query","params":{}}')).toMatchObject({
      action: 'close',
      code: 4001,
    });
    const c3 = expectAccept(await upgrade({ noAuth: true }));
    expect(await guard.message(c3, 'garbage')).toMatchObject({ action: 'close', code: 4001 });
  });

  it('a credential message after the deadline closes with 4001, reason auth_timeout', async () => {
    const { guard, clock, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    clock.advance(5000);
    expect(await guard.message(c, params({ token: await sign('alice') }))).toEqual({
      action: 'close',
      reason: 'auth_timeout',
      code: 4001,
      message: 'authentication timeout',
    });
    expect(c.principal).toBeUndefined();
  });

  it('a credential message just before the deadline is accepted', async () => {
    const { guard, clock, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    clock.advance(4999);
    expect(await guard.message(c, params({ token: await sign('alice') }))).toMatchObject({
      authenticated: true,
    });
  });

  it('refuses frames that arrive while the credential is being verified', async () => {
    const { guard, upgrade } = firstMessage();
    const c = expectAccept(await upgrade({ noAuth: true }));
    const token = await sign('alice');
    const inFlight = guard.message(c, params({ token }));
    expect(inFlight).toBeInstanceOf(Promise);
    const sneaky = await guard.message(c, '{"method":"mutation","params":{"path":"admin.kick"}}');
    expect(sneaky).toEqual({
      action: 'close',
      reason: 'credentials_missing',
      code: 4001,
      message: 'authentication in progress',
    });
    expect(await inFlight).toMatchObject({ action: 'deliver', authenticated: true });
  });

  it('a pending connection takes an IP lease but no user until it authenticates', async () => {
    const { guard, upgrade } = firstMessage({ limits: { maxConnectionsPerIp: 1 } });
    const c = expectAccept(await upgrade({ noAuth: true }));
    expect(guard.stats()).toMatchObject({ connections: 1, users: 0 });
    expectReject(await upgrade({ noAuth: true }), { reason: 'ip_cap' });
    await guard.close(c);
    expectAccept(await upgrade({ noAuth: true }));
  });
});

describe('credential lifetime', () => {
  it('closes with 4002 at the first message after the token expires', async () => {
    const { guard, clock, connect } = setup();
    const c = await connect();
    const exp = c.expiresAt!;
    clock.advance(exp - clock.now() - 1);
    expect((await guard.message(c, '{}')).action).toBe('deliver');
    clock.advance(1);
    expect(await guard.message(c, '{}')).toEqual({
      action: 'close',
      reason: 'expired',
      code: 4002,
      message: 'credentials expired',
    });
  });

  it('refresh() with a token for the same subject extends the connection', async () => {
    const { guard, clock, events } = setup();
    const shortExp = Math.floor(Date.now() / 1000) + 60;
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: {
          origin: ORIGIN,
          authorization: `Bearer ${await sign('alice', { expSec: shortExp })}`,
        },
      }),
      ip: IP,
    });
    const c = expectAccept(d);
    expect(c.expiresAt).toBe(shortExp * 1000);
    const later = shortExp + 3600;
    const p = await guard.refresh(c, await sign('alice', { expSec: later }));
    expect(p.sub).toBe('alice');
    expect(c.expiresAt).toBe(later * 1000);
    clock.advance(shortExp * 1000 - clock.now() + 1000);
    expect((await guard.message(c, '{}')).action).toBe('deliver');
    expect(events.filter((e) => e.type === 'token.refreshed')).toMatchObject([
      { connectionId: c.id, userId: 'alice' },
    ]);
  });

  it('refresh() with a token for another subject throws and changes nothing', async () => {
    const { guard, connect } = setup();
    const c = await connect('alice');
    const before = c.expiresAt;
    const error = await guard.refresh(c, await sign('mallory')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect(isGuardError(error)).toBe(true);
    expect((error as CredentialError).code).toBe('ERR_WSGUARD_CREDENTIALS');
    expect(c.principal?.sub).toBe('alice');
    expect(c.expiresAt).toBe(before);
  });

  it('refresh() with an expired or forged token throws', async () => {
    const { guard, connect } = setup();
    const c = await connect('alice');
    const expired = await sign('alice', { expSec: Math.floor(Date.now() / 1000) - 3600 });
    const e1 = await guard.refresh(c, expired).catch((e: unknown) => e);
    expect(e1).toMatchObject({ expired: true, code: 'ERR_WSGUARD_EXPIRED' });
    const e2 = await guard.refresh(c, 'forged').catch((e: unknown) => e);
    expect(e2).toMatchObject({ expired: false, code: 'ERR_WSGUARD_CREDENTIALS' });
    expect(c.principal?.sub).toBe('alice');
  });
});

describe('dry-run mode', () => {
  const dry = (extra: Partial<GuardOptions> = {}) => setup({ dryRun: true, ...extra });

  it('connect rate: decided and audited with dryRun, not enforced', async () => {
    const { upgrade, events } = dry({
      limits: { connectRate: { limit: 1, windowMs: 60_000, burst: 1 } },
    });
    expectAccept(await upgrade());
    expectAccept(await upgrade());
    expect(events.filter((e) => e.type === 'limit.exceeded')).toMatchObject([
      { reason: 'connect_rate', ip: IP, dryRun: true },
    ]);
  });

  it('IP and user caps: decided and audited with dryRun, not enforced', async () => {
    const { guard, upgrade, events } = dry({
      limits: { maxConnectionsPerIp: 1, maxConnectionsPerUser: 1 },
    });
    expectAccept(await upgrade());
    expectAccept(await upgrade());
    expect(events.filter((e) => e.type === 'limit.exceeded')).toMatchObject([
      { reason: 'ip_cap', dryRun: true },
      { reason: 'user_cap', userId: 'alice', dryRun: true },
    ]);
    expect(guard.stats().connections).toBe(2);
  });

  it('single-session eviction is not carried out in dry-run', async () => {
    const { guard, upgrade, events } = dry({
      limits: { maxConnectionsPerUser: 1, singleSession: true },
    });
    const first = expectAccept(await upgrade());
    const codes: number[] = [];
    guard.attach(first, (code) => codes.push(code));
    expectAccept(await upgrade());
    expect(codes).toEqual([]);
    expect(events.filter((e) => e.type === 'connection.evicted')).toEqual([]);
    expect(events.filter((e) => e.type === 'limit.exceeded')).toMatchObject([
      { reason: 'user_cap', dryRun: true },
    ]);
  });

  it('bans: a crossing is audited with dryRun but the IP is not banned', async () => {
    const { guard, upgrade, events } = dry({
      // Foreign origins score nothing by default; 5 points here to drive the crossing.
      penalties: { threshold: 10, points: { origin: 5 } },
      limits: { connectRate: false },
    });
    for (let i = 0; i < 2; i++) {
      expectReject(await upgrade({ origin: 'https://evil.example.net' }), { reason: 'origin' });
      await settle();
    }
    expect(events.filter((e) => e.type === 'ban.started')).toMatchObject([
      { ip: IP, reason: 'origin', dryRun: true },
    ]);
    expectAccept(await upgrade());
    expect(guard.stats().bans).toBe(1);
  });

  it('an existing ban is audited with dryRun but not enforced', async () => {
    const { guard, upgrade, events } = dry();
    await guard.ban('user', 'alice');
    await guard.ban('ip', IP);
    events.length = 0;
    expectAccept(await upgrade());
    expect(events.filter((e) => e.type === 'limit.exceeded')).toMatchObject([
      { reason: 'banned', ip: IP, dryRun: true },
      { reason: 'banned', userId: 'alice', dryRun: true },
    ]);
  });

  it('message rates: decided and audited with dryRun, messages delivered', async () => {
    const { guard, connect, events } = dry({
      limits: { messageRate: { limit: 1, windowMs: 60_000, burst: 1 }, closeAfterRateHits: 1 },
    });
    const c = await connect();
    for (let i = 0; i < 3; i++) expect((await guard.message(c, '{}')).action).toBe('deliver');
    expect(events.filter((e) => e.type === 'limit.exceeded')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'limit.exceeded')[0]).toMatchObject({
      reason: 'message_rate',
      dryRun: true,
      connectionId: c.id,
    });
  });

  it('origins and credentials are still enforced', async () => {
    const { upgrade } = dry();
    expectReject(await upgrade({ origin: 'https://evil.example.net' }), { reason: 'origin' });
    expectReject(await upgrade({ noAuth: true }), { reason: 'credentials_missing' });
  });
});

describe('store failures (fail closed, never throw)', () => {
  const down = (): Promise<never> => Promise.reject(new Error('ECONNREFUSED 10.0.0.5:6379'));
  const failingStore: Store = {
    name: 'down',
    shared: true,
    set: down,
    get: down,
    delete: down,
    take: down,
    limit: down,
    acquireLease: down,
    renewLeases: down,
    releaseLease: down,
    countLeases: down,
    addScore: down,
  };

  /** The memory store with one method broken (rejecting, or throwing synchronously). */
  function partlyDown(method: keyof Store, sync = false): Store {
    const mem = createMemoryStore();
    // Tickets are redeemed with takeWithTtl where the store has it: break both forms of take.
    const broken = method === 'take' ? ['take', 'takeWithTtl'] : [method];
    return new Proxy(mem, {
      get(target, prop) {
        if (broken.includes(prop as string))
          return sync
            ? () => {
                throw new Error('boom');
              }
            : down;
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  it('only the memory store itself goes without the fail-closed wrapper; anything around it keeps it', () => {
    const mem = createMemoryStore();
    expect(isMemoryStore(mem)).toBe(true);
    // The tests below break one method of a memory store through a Proxy: that is a store that
    // can fail, and it must still fail closed (503), not answer 500.
    expect(isMemoryStore(new Proxy(mem, {}))).toBe(false);
    expect(isMemoryStore({ ...mem } as Store)).toBe(false);
  });

  it('a store whose every method rejects: 503 store_unavailable with Retry-After, reported, never thrown', async () => {
    const { upgrade, errors, events, guard } = setup({ store: failingStore });
    const d = expectReject(await upgrade(), {
      reason: 'store_unavailable',
      status: 503,
      closeCode: 1013,
      mode: 'http',
      retryAfter: 5,
    });
    expect(d.message).toBe('service unavailable');
    expect(errors.map((e) => e.stage)).toEqual(['store']);
    expect(isGuardError(errors[0]!.error)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['store.error', 'connection.rejected']);
    expect(guard.stats().rejections).toEqual({ store_unavailable: 1 });
  });

  it.each([
    ['get', false],
    ['limit', false],
    ['acquireLease', false],
    ['limit', true],
    ['acquireLease', true],
  ] as const)('a failing store.%s (sync throw: %s) also ends in 503', async (method, sync) => {
    const { upgrade } = setup({
      store: partlyDown(method, sync),
      retryAfterUnavailableSec: 7,
    });
    expectReject(await upgrade(), { reason: 'store_unavailable', status: 503, retryAfter: 7 });
  });

  it('a failing take() refuses a ticket with 503, never "invalid" and never accepted', async () => {
    const mem = partlyDown('take');
    const { guard, upgrade } = setup({ store: mem, tickets: true });
    const { ticket } = await guard.issueTicket(
      { sub: 'alice', roles: [], permissions: [] },
      { origin: ORIGIN },
    );
    expectReject(await upgrade({ noAuth: true, url: `/ws?ticket=${ticket}` }), {
      reason: 'store_unavailable',
      status: 503,
    });
  });

  it('close() with a failing store resolves and reports', async () => {
    const store = partlyDown('releaseLease');
    const { guard, connect, errors } = setup({ store });
    const c = await connect();
    await expect(guard.close(c)).resolves.toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
    expect(guard.stats().connections).toBe(0);
  });

  it('first-message auth with a failing store closes with 1013', async () => {
    const store = partlyDown('acquireLease');
    const { guard, upgrade } = setup({
      store,
      credentials: { firstMessage: true },
      limits: { maxConnectionsPerIp: false },
    });
    const c = expectAccept(await upgrade({ noAuth: true }));
    const token = await sign('alice');
    expect(
      await guard.message(c, JSON.stringify({ method: 'connectionParams', data: { token } })),
    ).toMatchObject({ action: 'close', code: 1013, reason: 'store_unavailable' });
  });
});

describe('stats and metrics', () => {
  it('counts connections, users and rejections by reason; connections return to 0 after closes', async () => {
    const { guard, upgrade } = setup();
    const a1 = expectAccept(await upgrade({ sub: 'alice' }));
    const a2 = expectAccept(await upgrade({ sub: 'alice' }));
    const b = expectAccept(await upgrade({ sub: 'bob' }));
    expectReject(await upgrade({ origin: 'https://evil.example.net' }), { reason: 'origin' });
    expectReject(await upgrade({ noAuth: true }), { reason: 'credentials_missing' });
    expectReject(await upgrade({ noAuth: true }), { reason: 'credentials_missing' });
    await guard.message(a1, '{}');
    await guard.message(a1, '{');
    expect(guard.stats()).toMatchObject({
      connections: 3,
      users: 2,
      accepted: 3,
      rejections: { origin: 1, credentials_missing: 2 },
      messages: 1,
      messageRejections: { malformed: 1 },
      bans: 0,
    });
    await guard.close(a1, 1000);
    expect(guard.stats()).toMatchObject({ connections: 2, users: 2 });
    await guard.close(a2, 1000);
    await guard.close(b, 4001, 'guard');
    // The guard's own closes by code; the clients' by class, apart.
    expect(guard.stats()).toMatchObject({
      connections: 0,
      users: 0,
      accepted: 3,
      closes: { '4001': 1 },
      clientCloses: { normal: 2 },
    });
    expect([...guard.connections()]).toEqual([]);
  });

  it('metrics() is Prometheus text: HELP and TYPE per metric, one sample per line', async () => {
    const { guard, upgrade } = setup();
    const c = expectAccept(await upgrade());
    expectReject(await upgrade({ origin: 'https://evil.example.net' }), { reason: 'origin' });
    const text = guard.metrics();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) {
      expect(line).toMatch(
        /^(# HELP wsguard_[a-z_]+ .+|# TYPE wsguard_[a-z_]+ (gauge|counter)|wsguard_[a-z_]+(\{[a-z]+="[^"\\\n]*"\})? -?\d+(\.\d+)?)$/,
      );
    }
    expect(lines).toContain('# TYPE wsguard_connections gauge');
    expect(lines).toContain('wsguard_connections 1');
    expect(lines).toContain('wsguard_users 1');
    expect(lines).toContain('wsguard_connections_accepted_total 1');
    expect(lines).toContain('# TYPE wsguard_upgrades_rejected_total counter');
    expect(lines).toContain('wsguard_upgrades_rejected_total{reason="origin"} 1');
    await guard.close(c);
    expect(guard.metrics().split('\n')).toContain('wsguard_connections 0');
  });
});

describe('audit events', () => {
  it('emits exactly one event per decision', async () => {
    const { guard, events, upgrade } = setup({ messages: { maxInvalid: 100 } });
    const take = () => events.splice(0).map((e) => [e.type, e.reason]);
    const c = expectAccept(await upgrade());
    expect(take()).toEqual([['connection.accepted', undefined]]);
    expectReject(await upgrade({ origin: 'https://evil.example.net' }), { reason: 'origin' });
    expect(take()).toEqual([['connection.rejected', 'origin']]);
    expectReject(await upgrade({ noAuth: true }), { reason: 'credentials_missing' });
    expect(take()).toEqual([['connection.rejected', 'credentials_missing']]);
    await guard.message(c, '{"__proto__":1}');
    expect(take()).toEqual([['message.rejected', 'forbidden_key']]);
    await guard.message(c, '{}');
    expect(take()).toEqual([]);
    await guard.close(c, 1000);
    expect(take()).toEqual([['connection.closed', undefined]]);
  });

  it('carries who, from where and why on a rejection', async () => {
    const { events, upgrade } = setup();
    expectReject(
      await upgrade({ origin: 'https://evil.example.net', headers: { 'user-agent': 'ua/1' } }),
      { reason: 'origin' },
    );
    expect(events[0]).toMatchObject({
      type: 'connection.rejected',
      ip: IP,
      origin: 'https://evil.example.net',
      userAgent: 'ua/1',
      url: '/ws',
      reason: 'origin',
      status: 403,
      closeCode: 4003,
    });
    expect(typeof events[0]!.time).toBe('string');
    expect(Number.isNaN(Date.parse(events[0]!.time))).toBe(false);
  });

  it('never lets a token or ticket reach any event, in headers, queries or messages', async () => {
    const { guard, events, upgrade } = setup({
      tickets: true,
      penalties: { threshold: 1000 },
      credentials: {
        header: true,
        query: true,
        ticket: true,
        firstMessage: true,
        subprotocol: true,
      },
    });
    const secrets: string[] = [];
    const remember = (s: string) => {
      secrets.push(s);
      return s;
    };

    // Bearer header: valid, expired and forged.
    const valid = remember(await sign('alice'));
    expectAccept(await upgrade({ noAuth: true, headers: { authorization: `Bearer ${valid}` } }));
    const expired = remember(await sign('alice', { expSec: Math.floor(Date.now() / 1000) - 60 }));
    await upgrade({ noAuth: true, headers: { authorization: `Bearer ${expired}` } });
    const forged = remember(`${valid.slice(0, -4)}AAAA`);
    await upgrade({ noAuth: true, headers: { authorization: `Bearer ${forged}` } });

    // ?token= query: valid, forged, opaque and under an encoded parameter name.
    const q = remember(await sign('bob'));
    expectAccept(await upgrade({ noAuth: true, url: `/ws?room=1&token=${q}` }));
    await upgrade({ noAuth: true, url: `/ws?token=${forged}` });
    const opaque = remember('opaque-secret-credential-0123456789');
    await upgrade({ noAuth: true, url: `/ws?token=${opaque}&x=1` });
    const encodedName = remember(await sign('carol'));
    await upgrade({ noAuth: true, url: `/ws?%74oken=${encodedName}` });

    // ?ticket=: redeemed, replayed, unknown, and after a foreign origin.
    const owner = expectAccept(await upgrade({ sub: 'alice' }));
    const t1 = remember((await guard.issueTicket(owner.principal!, { origin: ORIGIN })).ticket);
    expectAccept(await upgrade({ noAuth: true, url: `/ws?ticket=${t1}` }));
    expectReject(await upgrade({ noAuth: true, url: `/ws?ticket=${t1}` }), {
      reason: 'credentials_invalid',
    });
    const unknown = remember('A'.repeat(43));
    await upgrade({ noAuth: true, url: `/ws?ticket=${unknown}` });
    const t2 = remember((await guard.issueTicket(owner.principal!, { origin: ORIGIN })).ticket);
    await upgrade({ noAuth: true, origin: 'https://evil.example.net', url: `/ws?ticket=${t2}` });
    await upgrade({ noAuth: true, url: `/ws?ticket=${t2}&token=${q}` });

    // Subprotocol.
    const sp = remember(await sign('dave'));
    expectAccept(
      await upgrade({
        noAuth: true,
        headers: { 'sec-websocket-protocol': `wsguard, bearer.${sp}` },
      }),
    );

    // First message: valid and forged tokens, and refresh.
    const pending = expectAccept(await upgrade({ noAuth: true }));
    const fm = remember(await sign('erin'));
    await guard.message(
      pending,
      JSON.stringify({ method: 'connectionParams', data: { token: fm } }),
    );
    const pending2 = expectAccept(await upgrade({ noAuth: true }));
    await guard.message(
      pending2,
      JSON.stringify({ method: 'connectionParams', data: { token: forged } }),
    );
    const refreshed = remember(await sign('erin'));
    await guard.refresh(pending, refreshed);
    await guard.refresh(pending, forged).catch(() => {});

    await guard.shutdown();
    await settle();

    expect(events.length).toBeGreaterThan(20);
    const dump = JSON.stringify(events);
    for (const s of secrets) expect(dump).not.toContain(s);
    // No piece of a token either: the signature and payload segments are absent too.
    for (const s of secrets.filter((x) => x.split('.').length === 3)) {
      const [, payload, signature] = s.split('.');
      expect(dump).not.toContain(payload!);
      if (signature!.length > 8) expect(dump).not.toContain(signature!);
    }
    expect(dump).toContain('token=[redacted]');
    expect(dump).toContain('ticket=[redacted]');
  });

  it('masks custom ticket and token parameter names too', async () => {
    const { guard, events, upgrade } = setup({
      tickets: true,
      credentials: { header: true, query: { param: 'bearer_q' }, ticket: { param: 'tk' } },
    });
    const token = await sign('alice');
    expectAccept(await upgrade({ noAuth: true, url: `/ws?bearer_q=${token}` }));
    const owner = expectAccept(await upgrade());
    const { ticket } = await guard.issueTicket(owner.principal!, { origin: ORIGIN });
    const viaTicket = expectAccept(await upgrade({ noAuth: true, url: `/ws?tk=${ticket}` }));
    const dump = JSON.stringify(events);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(ticket);
    expect(dump).toContain('tk=[redacted]');
    // The connection's own `url` never shows the secret either.
    expect(viaTicket.url).toBe('/ws?tk=[redacted]');
    expect(JSON.stringify(viaTicket)).not.toContain(ticket);
    expect({ ...viaTicket }.url).toBe('/ws?tk=[redacted]');
  });

  it('a throwing audit sink does not break decisions, and is reported', async () => {
    const errors: { stage: ErrorStage }[] = [];
    const guard = createGuard({
      origins: [ORIGIN],
      jwt: { algorithms: ['HS256'], secret: SECRET },
      penalties: false,
      audit: () => {
        throw new Error('log pipe closed');
      },
      onError: (_e, ctx) => errors.push(ctx),
    });
    const ok = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${await sign('alice')}` },
      }),
      ip: IP,
    });
    const c = expectAccept(ok);
    const bad = await guard.upgrade({
      request: new Request('http://localhost/ws', { headers: { origin: 'https://evil.test' } }),
      ip: IP,
    });
    expectReject(bad, { reason: 'origin', status: 403 });
    expect(await guard.message(c, '{"a":1}')).toEqual({ action: 'deliver', value: { a: 1 } });
    expect((await guard.message(c, '{')).action).toBe('reply');
    await guard.close(c);
    expect(guard.stats().connections).toBe(0);
    expect(errors.length).toBeGreaterThanOrEqual(4);
    expect(new Set(errors.map((e) => e.stage))).toEqual(new Set(['audit']));
  });

  it('an onError that throws does not break decisions either', async () => {
    const guard = createGuard({
      origins: [ORIGIN],
      jwt: { algorithms: ['HS256'], secret: SECRET },
      penalties: false,
      audit: () => {
        throw new Error('sink');
      },
      onError: () => {
        throw new Error('handler');
      },
    });
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${await sign('alice')}` },
      }),
      ip: IP,
    });
    expect(d.ok).toBe(true);
  });
});

describe('shutdown', () => {
  it('terminates every attached connection with 1001 and leaves none', async () => {
    const { guard, upgrade, events } = setup({ limits: { maxConnectionsPerIp: 3 } });
    const terminated: [string, number, string][] = [];
    const conns: GuardConnection[] = [];
    for (const sub of ['a', 'b', 'c']) {
      const c = expectAccept(await upgrade({ sub }));
      guard.attach(c, (code, reason) => terminated.push([c.id, code, reason]));
      conns.push(c);
    }
    await guard.shutdown();
    expect(terminated).toEqual(conns.map((c) => [c.id, 1001, 'server shutting down']));
    expect(guard.stats()).toMatchObject({ connections: 0, users: 0, closes: { '1001': 3 } });
    expect([...guard.connections()]).toEqual([]);
    expect(conns.every((c) => c.closed)).toBe(true);
    expect(events.filter((e) => e.type === 'connection.closed')).toHaveLength(3);
    // Leases were released: the IP fits three new connections again.
    for (const sub of ['d', 'e', 'f']) expectAccept(await upgrade({ sub }));
  });

  it('uses the given reason, and closes unattached connections too', async () => {
    const { guard, connect } = setup();
    const a = await connect('a');
    const reasons: string[] = [];
    const b = await connect('b');
    guard.attach(b, (_code, reason) => reasons.push(reason));
    await guard.shutdown('deploy');
    expect(reasons).toEqual(['deploy']);
    expect(a.closed).toBe(true);
    expect(guard.stats().connections).toBe(0);
  });
});

describe('never throws into the runtime', () => {
  it('a principal hook that throws becomes a refusal, and is reported', async () => {
    const { upgrade, errors } = setup({
      principal: () => {
        throw new Error('db down');
      },
    });
    const d = await upgrade();
    expect(d.ok).toBe(false);
    expect(errors.length).toBe(1);
  });

  it('message() answers hostile frames of every type without throwing', async () => {
    const { guard, connect } = setup({ messages: { maxInvalid: 1000 } });
    const c = await connect();
    const frames: (string | ArrayBuffer | ArrayBufferView)[] = [
      '',
      '\u0000',
      '\ud800',
      'null',
      '1e999999',
      '"\\u0000"',
      new ArrayBuffer(0),
      new Uint16Array([0xd800, 0xdc00]),
      new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    ];
    for (const f of frames) {
      const d: MessageDecision = await guard.message(c, f);
      expect(['deliver', 'reply', 'close']).toContain(d.action);
    }
  });
});

describe('violations the runtime refused itself (guard.violation)', () => {
  it('audits, counts and penalizes them like the guard’s own refusals', async () => {
    const { guard, connect, events, upgrade } = setup({ penalties: {} });
    const c = await connect('alice', '198.51.100.7');
    guard.violation(c, { reason: 'protocol', closeCode: 1002 });
    expect(events.at(-1)).toMatchObject({
      type: 'message.rejected',
      ip: '198.51.100.7',
      userId: 'alice',
      reason: 'protocol',
      closeCode: 1002,
      detail: { by: 'runtime' },
    });
    expect(guard.stats().messageRejections).toMatchObject({ protocol: 1 });
    // 5 points each (protocol and too_big), ban at 20 (the clock stands still: no decay).
    for (let i = 0; i < 3; i++) guard.violation(c, { reason: 'too_big', closeCode: 1009 });
    await settle();
    expect(guard.stats().messageRejections).toMatchObject({ protocol: 1, too_big: 3 });
    expect(events.some((e) => e.type === 'ban.started' && e.ip === '198.51.100.7')).toBe(true);
    expect(expectReject(await upgrade({ ip: '198.51.100.7' }), { reason: 'banned' }).status).toBe(
      403,
    );
    // Another address is unaffected.
    expect((await upgrade({ ip: '198.51.100.8' })).ok).toBe(true);
  });

  it('with penalties off, still audits and counts (no ban)', async () => {
    const { guard, connect, events, upgrade } = setup();
    const c = await connect('alice', '198.51.100.9');
    for (let i = 0; i < 10; i++) guard.violation(c, { reason: 'too_big', closeCode: 1009 });
    await settle();
    expect(guard.stats().messageRejections).toMatchObject({ too_big: 10 });
    expect(events.filter((e) => e.type === 'message.rejected')).toHaveLength(10);
    expect((await upgrade({ ip: '198.51.100.9' })).ok).toBe(true);
  });
});
