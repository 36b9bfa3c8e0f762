/**
 * Fuzz: credential extraction from arbitrary URLs, `Authorization` headers, cookies and
 * subprotocol lists, under arbitrary source configurations (names that are prototype keys
 * included).
 *
 * Oracles:
 * - the extractor agrees exactly with a reference written on `URLSearchParams` and plain string
 *   splitting (precedence ticket, header, subprotocol, query, cookie): so it never returns a
 *   credential from a source that is off, and never one the handshake does not literally hold
 *   (a `constructor` or `__proto__` name finds nothing unless it is in the query or cookie);
 * - the guard, end to end (`guard.upgrade` with real JWTs placed anywhere, one of them valid but
 *   over the size limit), decides exactly what the reference decides, never accepts a credential
 *   over the limit or from a source that is off, and never hands the app's CSRF hook a cookie
 *   value over the limit or empty (the limit is "refused unparsed").
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_CREDENTIAL_LENGTH } from '../../src/handshake/credentials.ts';
import { type CredentialSources, createCredentialExtractor, createGuard } from '../../src/mod.ts';
import { fuzz, timeoutOf } from './fuzz.ts';

const SECRET = 'fuzz-credentials-secret-0123456789abcdef';
const KEY = new TextEncoder().encode(SECRET);

/** Names a source may be configured with, or a handshake may use: prototype keys included. */
const NAMES = [
  'ticket',
  'token',
  't',
  'session',
  'csrf',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
] as const;
const PREFIXES = ['bearer.', 'jwt.', 'x', 'access_token.'] as const;

/** What the reference and the extractor are given. */
interface Config {
  readonly ticket: false | true | { readonly param: string };
  readonly query: false | true | { readonly param: string };
  readonly header: boolean | undefined;
  readonly cookie: string | undefined;
  readonly subprotocol: false | true | { readonly prefix: string };
}

interface Found {
  readonly kind: 'ticket' | 'token';
  readonly source: string;
  readonly value: string;
}

const configArb: fc.Arbitrary<Config> = fc.record({
  ticket: fc.oneof(
    fc.constant(false as const),
    fc.constant(true as const),
    fc.record({ param: fc.constantFrom(...NAMES) }),
  ),
  query: fc.oneof(
    fc.constant(false as const),
    fc.constant(true as const),
    fc.record({ param: fc.constantFrom(...NAMES) }),
  ),
  header: fc.option(fc.boolean(), { nil: undefined }),
  cookie: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
  subprotocol: fc.oneof(
    fc.constant(false as const),
    fc.constant(true as const),
    fc.record({ prefix: fc.constantFrom(...PREFIXES) }),
  ),
});

function sourcesOf(config: Config): CredentialSources {
  return {
    ticket: config.ticket,
    query: config.query,
    ...(config.header !== undefined ? { header: config.header } : {}),
    ...(config.cookie !== undefined
      ? { cookie: { name: config.cookie, csrf: { verify: () => false } } }
      : {}),
    subprotocol: config.subprotocol,
  };
}

// ---- the reference ---------------------------------------------------------------------------

function paramOf(opt: Config['ticket'], fallback: string): string | undefined {
  if (opt === false) return undefined;
  return opt === true ? fallback : opt.param;
}

/** The first cookie `name` in a `Cookie` header, by splitting (first wins, quotes dropped). */
function referenceCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
      ? value.slice(1, -1)
      : value;
  }
  return undefined;
}

/** The credential the documented precedence picks, or undefined. */
function referenceExtract(config: Config, request: Request): Found | undefined {
  const url = new URL(request.url);
  const ticketName = paramOf(config.ticket, 'ticket');
  if (ticketName !== undefined) {
    const v = url.searchParams.get(ticketName);
    if (v !== null) return { kind: 'ticket', source: 'query', value: v };
  }
  if (config.header ?? true) {
    const m = /^bearer\x20([\s\S]*)$/i.exec(request.headers.get('authorization') ?? '');
    const v = m?.[1]?.trim();
    if (v && !v.includes(' ')) return { kind: 'token', source: 'header', value: v };
  }
  if (config.subprotocol !== false) {
    const prefix = config.subprotocol === true ? 'bearer.' : config.subprotocol.prefix;
    const raw = request.headers.get('sec-websocket-protocol') ?? '';
    const entry = raw
      .split(',')
      .map((p) => p.trim())
      .find((p) => p !== '' && p.startsWith(prefix));
    if (entry !== undefined)
      return { kind: 'token', source: 'subprotocol', value: entry.slice(prefix.length) };
  }
  const queryName = paramOf(config.query, 'token');
  if (queryName !== undefined) {
    const v = url.searchParams.get(queryName);
    if (v !== null) return { kind: 'token', source: 'query', value: v };
  }
  if (config.cookie !== undefined) {
    const raw = request.headers.get('cookie');
    const v = raw ? referenceCookie(raw, config.cookie) : undefined;
    if (v !== undefined) return { kind: 'token', source: 'cookie', value: v };
  }
  return undefined;
}

/** Whether `config` reads credentials from `found`'s source at all. */
function sourceIsOn(config: Config, found: Found): boolean {
  switch (found.source) {
    case 'query':
      return found.kind === 'ticket' ? config.ticket !== false : config.query !== false;
    case 'header':
      return config.header ?? true;
    case 'subprotocol':
      return config.subprotocol !== false;
    case 'cookie':
      return config.cookie !== undefined;
    default:
      return false;
  }
}

// ---- handshakes ------------------------------------------------------------------------------

/** A handshake: query pairs, and the three headers a credential can be in (valid header text). */
interface Handshake {
  readonly query: string;
  readonly authorization: string | undefined;
  readonly cookie: string | undefined;
  readonly protocols: string | undefined;
}

function handshakeArb(values: fc.Arbitrary<string>): fc.Arbitrary<Handshake> {
  const name = fc.oneof(
    fc.constantFrom(...NAMES),
    fc.constantFrom('', 'a', 'tok%65n', 'tic+ket', '%5F_proto__', 'TOKEN'),
  );
  const pair = fc.oneof(
    fc.tuple(name, values).map(([n, v]) => `${n}=${v}`),
    name,
    fc.constantFrom('', '=', '&', '==', '%', '+'),
  );
  const query = fc.array(pair, { maxLength: 5 }).map((ps) => ps.join('&'));
  const authorization = fc.option(
    fc.oneof(
      values.map((v) => `Bearer ${v}`),
      fc
        .tuple(fc.constantFrom('bearer', 'BEARER', 'BeArEr', 'Bearer ', 'Basic', 'Bearerx'), values)
        .map(([s, v]) => `${s} ${v}`),
      fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'bearer\ttok'),
    ),
    { nil: undefined },
  );
  const cookiePart = fc.oneof(
    fc.tuple(name, values).map(([n, v]) => `${n}=${v}`),
    fc.tuple(name, values).map(([n, v]) => ` ${n} = "${v}" `),
    name,
    fc.constantFrom('', ' ', '=', ';'),
  );
  const cookie = fc.option(
    fc
      .tuple(fc.array(cookiePart, { maxLength: 5 }), fc.constantFrom('; ', ';', ' ;'))
      .map(([ps, sep]) => ps.join(sep)),
    { nil: undefined },
  );
  const entry = fc.oneof(
    fc.constantFrom('wsguard', 'csrf.c', 'bearer.', '', ' '),
    fc.tuple(fc.constantFrom(...PREFIXES, 'csrf.'), values).map(([p, v]) => `${p}${v}`),
  );
  const protocols = fc.option(
    fc
      .tuple(fc.array(entry, { maxLength: 4 }), fc.constantFrom(', ', ','))
      .map(([es, sep]) => es.join(sep)),
    { nil: undefined },
  );
  return fc.record({ query, authorization, cookie, protocols });
}

/** The handshake as a Request, or undefined when `Headers` refuses a value (not a handshake). */
function requestOf(h: Handshake, extra: Record<string, string> = {}): Request | undefined {
  const headers: Record<string, string> = { ...extra };
  if (h.authorization !== undefined) headers['authorization'] = h.authorization;
  if (h.cookie !== undefined) headers['cookie'] = h.cookie;
  if (h.protocols !== undefined) headers['sec-websocket-protocol'] = h.protocols;
  try {
    return new Request(`http://localhost/ws?${h.query}`, { headers });
  } catch {
    return undefined;
  }
}

const snapshot = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

describe('fuzz: credential extraction', () => {
  it(
    'agrees with the reference on arbitrary handshakes and configurations',
    async () => {
      const protoBefore = snapshot();
      const values = fc.oneof(
        fc.constantFrom('tok', 'a.b.c', '', 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1), '"q"', 'a b'),
        fc.constantFrom('%41', 'a%zz', 'a+b', '%2B', '__proto__', 'é', 'a=b', '%3B'),
        fc.stringMatching(/^[A-Za-z0-9._~=-]{0,12}$/),
      );
      await fuzz(
        'extractor',
        fc.property(configArb, handshakeArb(values), (config, h) => {
          const request = requestOf(h);
          fc.pre(request !== undefined);
          const url = new URL(request!.url);
          const extractor = createCredentialExtractor(sourcesOf(config), false);
          const got = extractor.fromRequest(request!, url);
          const want = referenceExtract(config, request!);
          expect(got).toEqual(want);
          if (got !== undefined) expect(sourceIsOn(config, got)).toBe(true);
        }),
        { weight: 20, msPerRun: 0.2 },
      );
      // Nothing the handshakes named ended up on the prototype.
      expect(snapshot()).toEqual(protoBefore);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    },
    timeoutOf({ weight: 20, msPerRun: 0.2 }),
  );
});

describe('fuzz: credentials through guard.upgrade', () => {
  const SUBS = ['alice', 'bob'] as const;
  const tokens: Record<string, string> = {};
  /** A valid JWT whose text is over the limit. */
  let long = '';
  beforeAll(async () => {
    const sign = (sub: string, pad = '') =>
      new SignJWT({ roles: ['user'], ...(pad ? { pad } : {}) })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setExpirationTime('10m')
        .sign(KEY);
    for (const sub of SUBS) tokens[sub] = await sign(sub);
    long = await sign('mallory', 'p'.repeat(MAX_CREDENTIAL_LENGTH));
    expect(long.length).toBeGreaterThan(MAX_CREDENTIAL_LENGTH);
  });

  it(
    'decides as the reference does; nothing over the limit or from an off source gets in',
    async () => {
      const guards = new Map<string, ReturnType<typeof createGuard>>();
      const csrfCalls: { token: string; cookie: string }[] = [];
      const guardFor = (config: Config) => {
        const k = JSON.stringify(config);
        let g = guards.get(k);
        if (!g) {
          const sources = sourcesOf(config);
          g = createGuard({
            origins: ['https://app.example.com'],
            jwt: { algorithms: ['HS256'], secret: SECRET },
            tickets: true,
            credentials: {
              ...sources,
              ...(config.cookie !== undefined
                ? {
                    cookie: {
                      name: config.cookie,
                      csrf: {
                        verify: (token: string, cookie: string) => {
                          csrfCalls.push({ token, cookie });
                          return token === 'good';
                        },
                      },
                    },
                  }
                : {}),
            },
            audit: false,
            penalties: false,
            limits: {
              connectRate: false,
              maxConnectionsPerIp: false,
              maxConnectionsPerUser: false,
            },
            onError: () => {},
          });
          guards.set(k, g);
        }
        return g;
      };
      const values = fc.oneof(
        fc.constantFrom('tok', '', 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1), 'a b'),
        fc.constantFrom(...SUBS).map((s) => tokens[s]!),
        fc.constant(0).map(() => long),
      );
      // The CSRF token: a query parameter or a `csrf.` subprotocol entry, right or wrong.
      const csrf = fc.constantFrom('', '&csrf=good', '&csrf=bad');
      await fuzz(
        'guard.upgrade',
        fc.asyncProperty(configArb, handshakeArb(values), csrf, async (config, h, csrfParam) => {
          const request = requestOf({ ...h, query: `${h.query}${csrfParam}` });
          fc.pre(request !== undefined);
          const guard = guardFor(config);
          const calls = csrfCalls.length;
          const d = await guard.upgrade({ request: request!, ip: '198.51.100.7' });
          if (d.ok) await guard.close(d.connection, 1000);

          // The reference decision.
          const found = referenceExtract(config, request!);
          let want: { ok: true; sub: string } | { ok: false; reason: string };
          if (!found) want = { ok: false, reason: 'credentials_missing' };
          else {
            const csrfToken =
              new URL(request!.url).searchParams.get('csrf') ??
              (request!.headers.get('sec-websocket-protocol') ?? '')
                .split(',')
                .map((p) => p.trim())
                .find((p) => p.startsWith('csrf.'))
                ?.slice(5);
            const sub = Object.keys(tokens).find((s) => tokens[s] === found.value);
            const usable = found.value.length > 0 && found.value.length <= MAX_CREDENTIAL_LENGTH;
            // Over the limit or empty is refused unparsed, before any hook (CSRF's) sees it.
            if (!usable) want = { ok: false, reason: 'credentials_invalid' };
            else if (found.source === 'cookie' && csrfToken !== 'good')
              want = { ok: false, reason: 'csrf' };
            else if (found.kind === 'token' && sub !== undefined) want = { ok: true, sub };
            else want = { ok: false, reason: 'credentials_invalid' };
          }
          const got = d.ok
            ? { ok: true as const, sub: d.connection.principal?.sub }
            : { ok: false as const, reason: d.reason };
          expect(got).toEqual(want);
          if (d.ok) {
            expect(found && sourceIsOn(config, found)).toBe(true);
            expect(found!.value.length).toBeLessThanOrEqual(MAX_CREDENTIAL_LENGTH);
          }
          // The app's CSRF hook sees only cookies the guard would verify: within the limit.
          for (const call of csrfCalls.slice(calls)) {
            expect(config.cookie).toBeDefined();
            expect(call.cookie.length).toBeGreaterThan(0);
            expect(call.cookie.length).toBeLessThanOrEqual(MAX_CREDENTIAL_LENGTH);
          }
        }),
        { weight: 3, msPerRun: 3 },
      );
      for (const g of guards.values()) await g.shutdown();
    },
    timeoutOf({ weight: 3, msPerRun: 3 }),
  );
});
