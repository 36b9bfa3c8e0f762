/**
 * Credential sources: each one on and off, the order they are read in, hostile header values,
 * prototype safety, cookie authentication with its CSRF check, and first-message authentication.
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { queryParam } from '../../../src/handshake/credentials.ts';
import {
  type Accept,
  type CredentialSources,
  createCredentialExtractor,
  createGuard,
  type Guard,
  GuardConfigError,
  type GuardOptions,
  type MessageDecision,
  type Reject,
  readCookie,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';
const SECRET = 'credentials-test-secret-0123456789abcdef';
const KEY = new TextEncoder().encode(SECRET);

function token(sub = 'alice', lifetime: string | number = '5m'): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(lifetime)
    .sign(KEY);
}

function guardWith(credentials: CredentialSources | undefined, extra: Partial<GuardOptions> = {}) {
  return createGuard({
    origins: [APP],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    ...(credentials ? { credentials } : {}),
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    ...extra,
  });
}

interface Handshake {
  path?: string;
  headers?: Record<string, string>;
  origin?: string | null;
  ip?: string;
}

function upgrade(guard: Guard, h: Handshake = {}): Promise<Accept | Reject> {
  const headers: Record<string, string> = { ...h.headers };
  const origin = h.origin === undefined ? APP : h.origin;
  if (origin !== null) headers['origin'] = origin;
  return guard.upgrade({
    request: new Request(`http://localhost${h.path ?? '/ws'}`, { headers }),
    ip: h.ip ?? '198.51.100.4',
  });
}

function expectAccepted(d: Accept | Reject, sub: string): Accept {
  if (!d.ok) throw new Error(`expected acceptance, got ${d.reason}`);
  expect(d.connection.principal?.sub).toBe(sub);
  return d;
}

function expectRejected(
  d: Accept | Reject,
  reason: Reject['reason'],
  closeCode: number,
  status?: number,
): Reject {
  if (d.ok) throw new Error(`expected rejection ${reason}, got acceptance`);
  expect(d.reason).toBe(reason);
  expect(d.closeCode).toBe(closeCode);
  if (status !== undefined) expect(d.status).toBe(status);
  return d;
}

function configProblems(options: GuardOptions): readonly string[] {
  try {
    createGuard({ audit: false, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(GuardConfigError);
    return (error as GuardConfigError).problems;
  }
  throw new Error('createGuard accepted options it should have refused');
}

describe('ticket in the query string', () => {
  const principal = { sub: 'alice', roles: ['user'], permissions: [] };

  it('is read from ?ticket= when tickets are on', async () => {
    const g = guardWith(undefined, { tickets: true });
    const { ticket } = await g.issueTicket(principal, { origin: APP });
    expectAccepted(await upgrade(g, { path: `/ws?ticket=${ticket}` }), 'alice');
  });

  it('is read from a renamed parameter, and the default name is then ignored', async () => {
    const g = guardWith({ ticket: { param: 't' } }, { tickets: true });
    const { ticket } = await g.issueTicket(principal, { origin: APP });
    expectRejected(
      await upgrade(g, { path: `/ws?ticket=${ticket}` }),
      'credentials_missing',
      4001,
      401,
    );
    expectAccepted(await upgrade(g, { path: `/ws?t=${ticket}` }), 'alice');
  });

  it('is ignored when the ticket source is off, even with tickets on', async () => {
    const g = guardWith({ ticket: false }, { tickets: true });
    const { ticket } = await g.issueTicket(principal, { origin: APP });
    expectRejected(await upgrade(g, { path: `/ws?ticket=${ticket}` }), 'credentials_missing', 4001);
  });

  it('is ignored when tickets are not configured', async () => {
    const g = guardWith(undefined);
    expectRejected(
      await upgrade(g, { path: `/ws?ticket=${'A'.repeat(43)}` }),
      'credentials_missing',
      4001,
    );
  });

  it('an empty ?ticket= is an invalid credential, not a missing one', async () => {
    const g = guardWith(undefined, { tickets: true });
    expectRejected(await upgrade(g, { path: '/ws?ticket=' }), 'credentials_invalid', 4001);
  });
});

describe('token in the query string', () => {
  it('is off by default', async () => {
    const g = guardWith(undefined);
    expectRejected(
      await upgrade(g, { path: `/ws?token=${await token()}` }),
      'credentials_missing',
      4001,
    );
  });

  it('is read from ?token= when on', async () => {
    const g = guardWith({ query: true });
    expectAccepted(await upgrade(g, { path: `/ws?token=${await token()}` }), 'alice');
  });

  it('is read from a renamed parameter only', async () => {
    const g = guardWith({ query: { param: 'access_token' } });
    const t = await token();
    expectAccepted(await upgrade(g, { path: `/ws?access_token=${t}` }), 'alice');
    expectRejected(await upgrade(g, { path: `/ws?token=${t}` }), 'credentials_missing', 4001);
  });

  it('refuses a forged token from the query', async () => {
    const g = guardWith({ query: true });
    const t = await token();
    const forged = `${t.slice(0, -4)}AAAA`;
    expectRejected(await upgrade(g, { path: `/ws?token=${forged}` }), 'credentials_invalid', 4001);
  });
});

describe('Authorization: Bearer', () => {
  it('is on by default with jwt configured', async () => {
    const g = guardWith(undefined);
    expectAccepted(
      await upgrade(g, { headers: { authorization: `Bearer ${await token()}` } }),
      'alice',
    );
  });

  it('accepts the scheme in any letter case (RFC 9110)', async () => {
    const g = guardWith(undefined);
    const t = await token();
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
      expectAccepted(await upgrade(g, { headers: { authorization: `${scheme} ${t}` } }), 'alice');
    }
  });

  it('accepts several spaces between scheme and token (1*SP)', async () => {
    const g = guardWith(undefined);
    expectAccepted(
      await upgrade(g, { headers: { authorization: `Bearer   ${await token()}` } }),
      'alice',
    );
  });

  it('finds no credential in malformed Authorization values', async () => {
    const g = guardWith(undefined);
    const t = await token();
    const malformed = [
      'Bearer',
      `Bearer${t}`,
      `Basic ${t}`,
      `Token ${t}`,
      t,
      `Bearer ${t} extra`,
      `Bearer\t${t}`,
      `Bearer,${t}`,
      `Bearer: ${t}`,
      `Beare ${t}`,
      `Bearer ${t}, Bearer ${t}`,
      '',
    ];
    for (const value of malformed) {
      expectRejected(
        await upgrade(g, { headers: { authorization: value } }),
        'credentials_missing',
        4001,
      );
    }
  });

  it('refuses a well-formed header carrying garbage as an invalid credential', async () => {
    const g = guardWith(undefined);
    expectRejected(
      await upgrade(g, { headers: { authorization: 'Bearer not.a.jwt' } }),
      'credentials_invalid',
      4001,
    );
  });

  it('is ignored when the header source is off', async () => {
    const g = guardWith({ header: false, query: true });
    expectRejected(
      await upgrade(g, { headers: { authorization: `Bearer ${await token()}` } }),
      'credentials_missing',
      4001,
    );
  });
});

describe('Sec-WebSocket-Protocol', () => {
  it('reads the token from a prefixed entry and echoes the other entry', async () => {
    const g = guardWith({ subprotocol: true });
    const d = expectAccepted(
      await upgrade(g, {
        headers: { 'sec-websocket-protocol': `wsguard, bearer.${await token()}` },
      }),
      'alice',
    );
    expect(d.protocol).toBe('wsguard');
    expect(d.connection.protocol).toBe('wsguard');
  });

  it('echoes the first non-secret entry even when it follows the token', async () => {
    const g = guardWith({ subprotocol: true });
    const d = expectAccepted(
      await upgrade(g, {
        headers: { 'sec-websocket-protocol': `bearer.${await token()}, graphql-ws, wsguard` },
      }),
      'alice',
    );
    expect(d.protocol).toBe('graphql-ws');
  });

  it('echoes nothing when the only entry is the token', async () => {
    const g = guardWith({ subprotocol: true });
    const d = expectAccepted(
      await upgrade(g, { headers: { 'sec-websocket-protocol': `bearer.${await token()}` } }),
      'alice',
    );
    expect(d.protocol).toBeUndefined();
  });

  it('uses a custom prefix, and the default prefix is then an ordinary protocol', async () => {
    const g = guardWith({ subprotocol: { prefix: 'access_token.' } });
    const t = await token();
    const d = expectAccepted(
      await upgrade(g, { headers: { 'sec-websocket-protocol': `wsguard, access_token.${t}` } }),
      'alice',
    );
    expect(d.protocol).toBe('wsguard');
    expectRejected(
      await upgrade(g, { headers: { 'sec-websocket-protocol': `wsguard, bearer.${t}` } }),
      'credentials_missing',
      4001,
    );
  });

  it('is off by default', async () => {
    const g = guardWith(undefined);
    expectRejected(
      await upgrade(g, {
        headers: { 'sec-websocket-protocol': `wsguard, bearer.${await token()}` },
      }),
      'credentials_missing',
      4001,
    );
  });

  it('echoes the selected protocol on a close-mode rejection too, so the client sees the close code', async () => {
    const g = guardWith({ subprotocol: true });
    const r = expectRejected(
      await upgrade(g, { headers: { 'sec-websocket-protocol': 'wsguard, bearer.bad.token.x' } }),
      'credentials_invalid',
      4001,
    );
    expect(r.mode).toBe('close');
    expect(r.protocol).toBe('wsguard');
  });

  it('refuses a 100 KB token entry as an invalid credential without parsing it', async () => {
    const g = guardWith({ subprotocol: true });
    const r = expectRejected(
      await upgrade(g, {
        headers: { 'sec-websocket-protocol': `wsguard, bearer.${'a'.repeat(100_000)}` },
      }),
      'credentials_invalid',
      4001,
      401,
    );
    expect(r.protocol).toBe('wsguard');
  });

  it('finds the token after 100 KB of other entries', async () => {
    const g = guardWith({ subprotocol: true });
    const d = expectAccepted(
      await upgrade(g, {
        headers: {
          'sec-websocket-protocol': `${'x,'.repeat(50_000)}bearer.${await token()}`,
        },
      }),
      'alice',
    );
    expect(d.protocol).toBe('x');
  });

  it('finds no credential in 100 KB of separators and spaces', async () => {
    const g = guardWith({ subprotocol: true });
    const r = expectRejected(
      await upgrade(g, { headers: { 'sec-websocket-protocol': ', '.repeat(50_000) } }),
      'credentials_missing',
      4001,
    );
    expect(r.protocol).toBeUndefined();
  });
});

describe('credential source order', () => {
  it('reads sources in a fixed order and never falls back from a bad credential to a good one', async () => {
    const g = guardWith({ query: true, subprotocol: true });
    const good = await token();
    // Header comes before the query string: a bad header is not rescued by a good query token.
    expectRejected(
      await upgrade(g, {
        path: `/ws?token=${good}`,
        headers: { authorization: 'Bearer bad.bad.bad' },
      }),
      'credentials_invalid',
      4001,
    );
    // Subprotocol comes before the query string.
    expectRejected(
      await upgrade(g, {
        path: `/ws?token=${good}`,
        headers: { 'sec-websocket-protocol': 'wsguard, bearer.bad.bad.bad' },
      }),
      'credentials_invalid',
      4001,
    );
  });

  it('reads a ticket before a header token', async () => {
    const g = guardWith(undefined, { tickets: true });
    expectRejected(
      await upgrade(g, {
        path: `/ws?ticket=${'A'.repeat(43)}`,
        headers: { authorization: `Bearer ${await token()}` },
      }),
      'credentials_invalid',
      4001,
    );
  });
});

describe('cookie authentication', () => {
  const csrfOk = (t: string) => t === 'page-csrf-token';
  const cookieGuard = (verify: (t: string, c: string) => boolean | Promise<boolean> = csrfOk) =>
    guardWith({ header: false, cookie: { name: 'session', csrf: { verify } } });

  it('accepts the named cookie with a valid CSRF token in ?csrf=', async () => {
    const g = cookieGuard();
    expectAccepted(
      await upgrade(g, {
        path: '/ws?csrf=page-csrf-token',
        headers: { cookie: `session=${await token()}` },
      }),
      'alice',
    );
  });

  it('accepts a CSRF token offered as a csrf.<token> subprotocol and does not echo it', async () => {
    const g = cookieGuard();
    const d = expectAccepted(
      await upgrade(g, {
        headers: {
          cookie: `session=${await token()}`,
          'sec-websocket-protocol': 'csrf.page-csrf-token, wsguard',
        },
      }),
      'alice',
    );
    expect(d.protocol).toBe('wsguard');
  });

  it('passes the CSRF token and the cookie value to verify', async () => {
    const verify = vi.fn(() => true);
    const g = cookieGuard(verify);
    const t = await token();
    await upgrade(g, { path: '/ws?csrf=abc', headers: { cookie: `session=${t}` } });
    expect(verify).toHaveBeenCalledWith('abc', t);
  });

  it("refuses a wrong CSRF token with reason 'csrf' (403 / 4003, accepted then closed)", async () => {
    const g = cookieGuard();
    const r = expectRejected(
      await upgrade(g, { path: '/ws?csrf=wrong', headers: { cookie: `session=${await token()}` } }),
      'csrf',
      4003,
      403,
    );
    expect(r.mode).toBe('close');
  });

  it("refuses a missing CSRF token with reason 'csrf'", async () => {
    const g = cookieGuard();
    expectRejected(
      await upgrade(g, { headers: { cookie: `session=${await token()}` } }),
      'csrf',
      4003,
    );
  });

  it("refuses a wrong csrf.<token> subprotocol with reason 'csrf'", async () => {
    const g = cookieGuard();
    expectRejected(
      await upgrade(g, {
        headers: {
          cookie: `session=${await token()}`,
          'sec-websocket-protocol': 'wsguard, csrf.wrong',
        },
      }),
      'csrf',
      4003,
    );
  });

  it('awaits an async verify that refuses', async () => {
    const g = cookieGuard(async () => false);
    expectRejected(
      await upgrade(g, { path: '/ws?csrf=x', headers: { cookie: `session=${await token()}` } }),
      'csrf',
      4003,
    );
  });

  it('checks CSRF before verifying the token: a valid CSRF does not rescue a forged cookie', async () => {
    const g = cookieGuard();
    expectRejected(
      await upgrade(g, { headers: { cookie: `session=${await token()}x` } }),
      'csrf',
      4003,
    );
    expectRejected(
      await upgrade(g, {
        path: '/ws?csrf=page-csrf-token',
        headers: { cookie: `session=${await token()}x` },
      }),
      'credentials_invalid',
      4001,
    );
  });

  it('fails closed when verify throws', async () => {
    const g = guardWith(
      {
        header: false,
        cookie: {
          name: 'session',
          csrf: {
            verify: () => {
              throw new Error('csrf backend down');
            },
          },
        },
      },
      { onError: () => {} },
    );
    const r = await upgrade(g, {
      path: '/ws?csrf=x',
      headers: { cookie: `session=${await token()}` },
    });
    expectRejected(r, 'internal', 1011, 500);
  });

  it('reads a renamed CSRF parameter only', async () => {
    const g = guardWith({
      header: false,
      cookie: { name: 'session', csrf: { param: 'xsrf', verify: csrfOk } },
    });
    const t = await token();
    expectAccepted(
      await upgrade(g, { path: '/ws?xsrf=page-csrf-token', headers: { cookie: `session=${t}` } }),
      'alice',
    );
    expectRejected(
      await upgrade(g, { path: '/ws?csrf=page-csrf-token', headers: { cookie: `session=${t}` } }),
      'csrf',
      4003,
    );
  });

  it('does not ask for CSRF when the credential comes from the Authorization header', async () => {
    const g = guardWith({ header: true, cookie: { name: 'session', csrf: { verify: csrfOk } } });
    expectAccepted(
      await upgrade(g, { headers: { authorization: `Bearer ${await token()}` } }),
      'alice',
    );
  });

  it('with dangerouslyWithoutCsrf, accepts the cookie alone', async () => {
    const g = guardWith({
      header: false,
      cookie: { name: 'session', dangerouslyWithoutCsrf: true },
    });
    expectAccepted(await upgrade(g, { headers: { cookie: `session=${await token()}` } }), 'alice');
  });

  it('still refuses a foreign origin with 403 before reading the cookie', async () => {
    const g = cookieGuard();
    const r = await upgrade(g, {
      origin: 'https://evil.io',
      path: '/ws?csrf=page-csrf-token',
      headers: { cookie: `session=${await token()}` },
    });
    expectRejected(r, 'origin', 4003, 403);
  });

  describe('cookie parsing', () => {
    const g = guardWith({
      header: false,
      cookie: { name: 'session', dangerouslyWithoutCsrf: true },
    });
    const up = (cookie: string) => upgrade(g, { headers: { cookie } });

    it('takes the first of duplicate cookies', async () => {
      const [a, b] = [await token('alice'), await token('bob')];
      expectAccepted(await up(`session=${a}; session=${b}`), 'alice');
      expectAccepted(await up(`other=1; session=${b}; session=${a}`), 'bob');
    });

    it('strips surrounding double quotes', async () => {
      expectAccepted(await up(`session="${await token()}"`), 'alice');
    });

    it('finds the cookie among others with or without spaces', async () => {
      const t = await token();
      expectAccepted(await up(`a=1;b=2;session=${t};c=3`), 'alice');
      expectAccepted(await up(`a=1;   session=${t}`), 'alice');
    });

    it('matches the name exactly (case-sensitive, no prefix or suffix)', async () => {
      const t = await token();
      for (const cookie of [
        `Session=${t}`,
        `xsession=${t}`,
        `session_x=${t}`,
        `sess=${t}`,
        `a=session=${t}`,
      ]) {
        expectRejected(await up(cookie), 'credentials_missing', 4001);
      }
    });

    it('reports a missing cookie as missing credentials', async () => {
      expectRejected(await up('a=1; b=2'), 'credentials_missing', 4001);
      expectRejected(await upgrade(g), 'credentials_missing', 4001);
    });

    it('treats an empty cookie value as an invalid credential', async () => {
      expectRejected(await up('session=; a=1'), 'credentials_invalid', 4001);
    });

    it('finds the cookie after 50,000 empty a=; pairs', async () => {
      expectAccepted(await up(`${'a=;'.repeat(50_000)}session=${await token()}`), 'alice');
    });

    it('finds no cookie in 50,000 empty a=; pairs', async () => {
      expectRejected(await up('a=;'.repeat(50_000)), 'credentials_missing', 4001);
    });

    it('finds the cookie after 50,000 pairs without an equals sign', async () => {
      expectAccepted(await up(`${'a;'.repeat(50_000)}session=${await token()}`), 'alice');
    });

    it('ignores a cookie named __proto__, constructor or toString', async () => {
      const t = await token();
      expectRejected(
        await up(`__proto__=${t}; constructor=${t}; toString=${t}`),
        'credentials_missing',
        4001,
      );
    });

    it('is off unless configured', async () => {
      const plain = guardWith(undefined);
      expectRejected(
        await upgrade(plain, { headers: { cookie: `session=${await token()}` } }),
        'credentials_missing',
        4001,
      );
    });
  });
});

describe('readCookie', () => {
  it('never answers from the prototype chain', () => {
    expect(readCookie('a=1', '__proto__')).toBeUndefined();
    expect(readCookie('a=1', 'toString')).toBeUndefined();
    expect(readCookie('a=1', 'constructor')).toBeUndefined();
    expect(readCookie('__proto__=x', 'session')).toBeUndefined();
  });

  it('reads a cookie literally named __proto__ only when that name is asked for', () => {
    expect(readCookie('__proto__=x; session=y', '__proto__')).toBe('x');
    expect(readCookie('__proto__=x; session=y', 'session')).toBe('y');
  });

  it('handles values with = and empty values', () => {
    expect(readCookie('session=a=b=c', 'session')).toBe('a=b=c');
    expect(readCookie('session=', 'session')).toBe('');
    expect(readCookie('session', 'session')).toBeUndefined();
    expect(readCookie('', 'session')).toBeUndefined();
  });

  it('gives the right answer on hostile headers', () => {
    expect(readCookie(`${'a=;'.repeat(50_000)}session=v`, 'session')).toBe('v');
    expect(readCookie(`${'a;'.repeat(50_000)}session=v`, 'session')).toBe('v');
    expect(readCookie(`${';'.repeat(100_000)}session=v`, 'session')).toBe('v');
    expect(readCookie(`${'='.repeat(100_000)}; session=v`, 'session')).toBe('v');
    expect(readCookie('a;'.repeat(50_000), 'session')).toBeUndefined();
    expect(readCookie(`${'a;'.repeat(50_000)}b=1`, 'session')).toBeUndefined();
  });
});

describe('cookie authentication start-up errors', () => {
  const base: GuardOptions = {
    origins: [APP],
    jwt: { algorithms: ['HS256'], secret: SECRET },
  };

  it('refuses cookie auth without a CSRF check', () => {
    const problems = configProblems({ ...base, credentials: { cookie: { name: 'session' } } });
    expect(problems).toEqual([expect.stringMatching(/^credentials\.cookie: add csrf/)]);
  });

  it('allows cookie auth without CSRF only with dangerouslyWithoutCsrf', () => {
    expect(() =>
      createGuard({
        ...base,
        audit: false,
        credentials: { cookie: { name: 'session', dangerouslyWithoutCsrf: true } },
      }),
    ).not.toThrow();
  });

  it('refuses cookie auth with every origin allowed', () => {
    const problems = configProblems({
      jwt: base.jwt!,
      dangerouslyAllowAnyOrigin: true,
      credentials: { cookie: { name: 'session', csrf: { verify: () => true } } },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^credentials\.cookie: cookie auth with every origin allowed/),
    ]);
  });

  it('refuses cookie auth without an origin list', () => {
    const problems = configProblems({
      jwt: base.jwt!,
      credentials: { cookie: { name: 'session', csrf: { verify: () => true } } },
    });
    expect(problems).toEqual([expect.stringMatching(/^origins: missing/)]);
  });

  it('refuses cookie auth without jwt to verify the cookie', () => {
    const problems = configProblems({
      origins: [APP],
      tickets: true,
      credentials: { cookie: { name: 'session', csrf: { verify: () => true } } },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^credentials\.cookie: the cookie holds a JWT/),
    ]);
  });
});

describe('first-message authentication', () => {
  const firstGuard = (extra: Partial<GuardOptions> = {}, sources: CredentialSources = {}) =>
    guardWith({ firstMessage: true, ...sources }, extra);

  async function pending(g: Guard): Promise<Accept> {
    const d = await upgrade(g);
    if (!d.ok) throw new Error(`expected a pending connection, got ${d.reason}`);
    expect(d.connection.principal).toBeUndefined();
    expect(d.connection.authDeadline).toBeTypeOf('number');
    return d;
  }

  function expectClose(m: MessageDecision, reason: string, code: number): void {
    expect(m).toMatchObject({ action: 'close', reason, code });
  }

  it('authenticates with tRPC connectionParams {token}', async () => {
    const g = firstGuard();
    const d = await pending(g);
    const frame = JSON.stringify({ method: 'connectionParams', data: { token: await token() } });
    const m = await g.message(d.connection, frame);
    expect(m).toMatchObject({ action: 'deliver', authenticated: true });
    expect(d.connection.principal?.sub).toBe('alice');
    expect(d.connection.authDeadline).toBeUndefined();
  });

  it("authenticates with {type:'auth', token}", async () => {
    const g = firstGuard();
    const d = await pending(g);
    const m = await g.message(d.connection, JSON.stringify({ type: 'auth', token: await token() }));
    expect(m).toMatchObject({ action: 'deliver', authenticated: true });
    expect(d.connection.principal?.sub).toBe('alice');
  });

  it('authenticates with a ticket in connectionParams', async () => {
    const g = firstGuard({ tickets: true });
    const { ticket } = await g.issueTicket(
      { sub: 'carol', roles: [], permissions: [] },
      { origin: APP },
    );
    const d = await pending(g);
    const m = await g.message(
      d.connection,
      JSON.stringify({ method: 'connectionParams', data: { ticket } }),
    );
    expect(m).toMatchObject({ action: 'deliver', authenticated: true });
    expect(d.connection.principal?.sub).toBe('carol');
  });

  it('closes with 4001 on an invalid token', async () => {
    const g = firstGuard();
    const d = await pending(g);
    expectClose(
      await g.message(d.connection, JSON.stringify({ type: 'auth', token: 'a.b.c' })),
      'credentials_invalid',
      4001,
    );
    expect(d.connection.principal).toBeUndefined();
  });

  it('closes with 4002 on an expired token', async () => {
    const g = firstGuard();
    const d = await pending(g);
    const expired = await token('alice', Math.floor(Date.now() / 1000) - 600);
    expectClose(
      await g.message(d.connection, JSON.stringify({ type: 'auth', token: expired })),
      'expired',
      4002,
    );
  });

  it('closes with 4001 when the first message carries no credential', async () => {
    const g = firstGuard();
    for (const frame of [
      '{"type":"hello"}',
      '{"method":"connectionParams","data":null}',
      '{"method":"connectionParams","data":{"token":42}}',
      '{"type":"auth","token":null}',
      '[{"type":"auth"}]',
      '"token"',
      'not json',
    ]) {
      const d = await pending(g);
      expectClose(await g.message(d.connection, frame), 'credentials_missing', 4001);
    }
  });

  it('never takes a token from __proto__ in the first message', async () => {
    const g = firstGuard();
    const t = await token();
    for (const frame of [
      `{"type":"auth","__proto__":{"token":"${t}"}}`,
      `{"method":"connectionParams","data":{"__proto__":{"token":"${t}"}}}`,
      `{"__proto__":{"method":"connectionParams","data":{"token":"${t}"}}}`,
      `{"type":"auth","constructor":{"prototype":{"token":"${t}"}}}`,
      `{"type":"auth","\\u005f_proto__":{"token":"${t}"}}`,
    ]) {
      const d = await pending(g);
      expectClose(await g.message(d.connection, frame), 'credentials_missing', 4001);
      expect(d.connection.principal).toBeUndefined();
    }
    expect(({} as Record<string, unknown>)['token']).toBeUndefined();
  });

  it('the default extractor reads own properties only', async () => {
    const x = createCredentialExtractor({ firstMessage: true }, false);
    const t = await token();
    expect(x.fromMessage(JSON.parse(`{"type":"auth","__proto__":{"token":"${t}"}}`))).toBe(
      undefined,
    );
    expect(x.fromMessage(Object.create({ type: 'auth', token: t }))).toBeUndefined();
    const inherited = Object.create({ token: t }) as Record<string, unknown>;
    inherited['type'] = 'auth';
    expect(x.fromMessage(inherited)).toBeUndefined();
    expect(x.fromMessage({ method: 'connectionParams', data: Object.create({ ticket: t }) })).toBe(
      undefined,
    );
    expect(x.fromMessage({ type: 'auth', token: t })).toEqual({
      kind: 'token',
      source: 'first-message',
      value: t,
    });
  });

  it('refuses a first-message credential longer than 8192 characters', async () => {
    const g = firstGuard();
    const d = await pending(g);
    expectClose(
      await g.message(d.connection, JSON.stringify({ type: 'auth', token: 'a'.repeat(8193) })),
      'credentials_missing',
      4001,
    );
  });

  it('closes with 4001 auth_timeout when the credential message comes too late', async () => {
    let clock = 1_700_000_000_000;
    const g = firstGuard({ now: () => clock });
    const d = await pending(g);
    expect(d.connection.authDeadline).toBe(clock + 5000);
    clock += 5000;
    expectClose(
      await g.message(d.connection, JSON.stringify({ type: 'auth', token: await token() })),
      'auth_timeout',
      4001,
    );
  });

  it('honours a custom timeout and a custom extractor', async () => {
    let clock = 1_700_000_000_000;
    const g = guardWith(
      {
        firstMessage: {
          timeoutMs: 1000,
          extract: (m) =>
            typeof m === 'object' && m !== null && typeof (m as { jwt?: unknown }).jwt === 'string'
              ? { kind: 'token', value: (m as { jwt: string }).jwt }
              : undefined,
        },
      },
      { now: () => clock },
    );
    const d = await pending(g);
    expect(d.connection.authDeadline).toBe(clock + 1000);
    const m = await g.message(d.connection, JSON.stringify({ jwt: await token() }));
    expect(m).toMatchObject({ action: 'deliver', authenticated: true });
    clock += 1;
    const d2 = await pending(g);
    expectClose(
      await g.message(d2.connection, JSON.stringify({ type: 'auth', token: await token() })),
      'credentials_missing',
      4001,
    );
  });

  it('is off unless configured: no pending connection without credentials', async () => {
    const g = guardWith(undefined);
    expectRejected(await upgrade(g), 'credentials_missing', 4001, 401);
  });

  it('still uses handshake credentials directly when first-message auth is on', async () => {
    const g = firstGuard();
    const d = expectAccepted(
      await upgrade(g, { headers: { authorization: `Bearer ${await token()}` } }),
      'alice',
    );
    expect(d.connection.authDeadline).toBeUndefined();
  });

  it('refuses a first-message timeout above 60 s at start-up', () => {
    const problems = configProblems({
      origins: [APP],
      jwt: { algorithms: ['HS256'], secret: SECRET },
      credentials: { firstMessage: { timeoutMs: 120_000 } },
    });
    expect(problems).toEqual([expect.stringMatching(/^credentials\.firstMessage\.timeoutMs/)]);
  });
});

describe('token sources need a verifier', () => {
  it('refuses header, query or subprotocol sources without jwt', () => {
    const problems = configProblems({
      origins: [APP],
      tickets: true,
      credentials: { query: true },
    });
    expect(problems).toEqual([expect.stringMatching(/^credentials: token sources/)]);
  });
});

describe('queryParam', () => {
  it('answers as URLSearchParams.get on generated queries', () => {
    const piece = fc.constantFrom(
      'ticket',
      'token',
      'a',
      '',
      '=',
      '&',
      '%',
      '%74',
      '+',
      'x y',
      '%zz',
      '==',
      'é',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 10 }),
        fc.constantFrom('ticket', 'token', 'a', '', 'x y', 'é'),
        (pieces, name) => {
          const url = new URL(`http://h/p?${pieces.join('')}`);
          expect(queryParam(url, name), url.search).toBe(url.searchParams.get(name));
        },
      ),
      { numRuns: 20_000 },
    );
    const plain = new URL('http://h/p');
    expect(queryParam(plain, 'ticket')).toBeNull();
    expect(queryParam(new URL('http://h/p?ticket=a&ticket=b'), 'ticket')).toBe('a');
    expect(queryParam(new URL('http://h/p?x&ticket'), 'ticket')).toBe('');
  });
});
