/**
 * Review of the verified-token cache (`jwt.cache`, `src/auth/jwt-cache.ts`): a verifier that
 * remembers tokens must answer exactly as the same verifier with `cache: false` at every moment,
 * for every text, and stay within its bounds; one guard's cache must not speak for another's.
 * Each check builds both verifiers from the same options and drives them through the same
 * moments (a fake `Date` only: jose's remote key set reads `Date.now` too, so two verifiers
 * built the same way and fed the same sequence see the same key-set history). A mapper that
 * records the identity of the claims object it is handed tells a hit from a miss (a miss decodes
 * a new object) without reaching into the cache.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  type CryptoKey as JoseCryptoKey,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CredentialError,
  createJwtVerifier,
  createMemoryStore,
  type JwtOptions,
  type JwtVerifier,
  type Principal,
  principalFromClaims,
  StoreUnavailableError,
} from '../../src/mod.ts';
import { attach, ORIGIN, SECRET, testGuard } from '../unit/fixtures/guards.ts';

const KEY = new TextEncoder().encode(SECRET);
const T0 = 1_800_000_000; // seconds
const HS: JwtOptions = { algorithms: ['HS256'], secret: SECRET };

afterEach(() => {
  vi.useRealTimers();
});

/** Freeze `Date` at `sec` (seconds); timers stay real (jose's fetch timeout, the server). */
const clockAt = (sec: number): void => {
  vi.useFakeTimers({ now: sec * 1000, toFake: ['Date'] });
};
const setClock = (sec: number): void => {
  vi.setSystemTime(sec * 1000);
};

/** What a verification came to, comparable across verifiers. */
async function outcome(verify: () => Promise<Principal>) {
  try {
    const p = await verify();
    return { ok: true, sub: p.sub, roles: p.roles, expiresAt: p.expiresAt };
  } catch (e) {
    if (e instanceof CredentialError)
      return { ok: false, kind: 'credential', message: e.message, expired: e.expired };
    if (e instanceof StoreUnavailableError) return { ok: false, kind: 'unavailable' };
    return { ok: false, kind: 'other', error: String(e) };
  }
}

/** A mapper that counts hits: the same claims object handed over again is a remembered token. */
function probe(): {
  principal: NonNullable<JwtOptions['principal']>;
  hits: () => number;
} {
  const seen = new WeakSet<object>();
  let hits = 0;
  return {
    principal: (claims) => {
      if (seen.has(claims)) hits++;
      seen.add(claims);
      return principalFromClaims(claims);
    },
    hits: () => hits,
  };
}

const hs = (claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'HS256', ...header })
    .sign(KEY);

/** An HS256 token by hand (fast, for floods). */
const hsFast = (payload: object): string => {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b({ alg: 'HS256' })}.${b(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
};

/** Both verifiers of `options`, remembering and not. */
const pair = (options: JwtOptions) => ({
  cached: createJwtVerifier({ ...options, cache: 1000 }),
  plain: createJwtVerifier({ ...options, cache: false }),
});

/** Verify `token` with both at the current moment; the two answers. */
async function both(v: { cached: JwtVerifier; plain: JwtVerifier }, token: string) {
  const a = await outcome(() => v.cached.verify(token));
  const b = await outcome(() => v.plain.verify(token));
  return { a, b };
}

describe('verified-token cache against a verifier without it (review)', () => {
  it('holds: a text differing from a remembered token in what the canonical check refuses is refused', async () => {
    clockAt(T0);
    const v = pair(HS);
    const token = await hs({ exp: T0 + 300, iat: T0 });
    for (let i = 0; i < 3; i++) expect((await both(v, token)).a.ok).toBe(true);
    const [h, p, s] = token.split('.') as [string, string, string];
    const swapCase = (x: string) => x.replace(/[a-z]/, (c) => c.toUpperCase());
    const variants = [
      `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`,
      `${h}.${p}==.${s}`,
      `${token}.`,
      `.${token}`,
      `${token}\n`,
      `\t${token}`,
      `${h}. ${p}.${s}`,
      `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`,
      `${h}.${p.replaceAll('-', '+').replaceAll('_', '/')}.${s}`,
      `${h}.${p}.${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) + 1)}`, // unused bits
      `${h}.${p}.${swapCase(s)}`,
      `${swapCase(h)}.${p}.${s}`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${h}.${p}`,
      `${h}..${s}`,
      token.toUpperCase(),
      `${token}${token}`,
    ];
    for (const variant of variants.filter((x) => x !== token)) {
      const { a, b } = await both(v, variant);
      expect(a, JSON.stringify(variant)).toEqual(b);
      expect(a.ok, JSON.stringify(variant)).toBe(false);
    }
  });

  it('holds: a token remembered by one verifier is judged afresh by another with other options', async () => {
    clockAt(T0);
    const token = await hs(
      { exp: T0 + 3600, iat: T0 - 600, aud: 'chat', iss: 'https://a.example' },
      { typ: 'at+jwt' },
    );
    const loose: JwtOptions = { ...HS, audience: 'chat', maxTokenAgeSec: false };
    const warm = createJwtVerifier({ ...loose, cache: 1000 });
    for (let i = 0; i < 3; i++) expect((await outcome(() => warm.verify(token))).ok).toBe(true);
    const stricter: JwtOptions[] = [
      { ...HS, audience: 'billing' },
      { ...HS }, // aud present, no audience configured
      { ...HS, audience: 'chat', issuer: 'https://b.example' },
      { ...HS, audience: 'chat', typ: 'dpop+jwt' },
      { ...HS, audience: 'chat', maxTokenAgeSec: 60 },
      { ...HS, audience: 'chat', maxTokenAgeSec: 595, clockToleranceSec: 0 },
      { ...HS, audience: 'chat', algorithms: ['HS512'] },
    ];
    for (const options of stricter) {
      const v = pair(options);
      for (let i = 0; i < 3; i++) {
        const { a, b } = await both(v, token);
        expect(a, JSON.stringify(options)).toEqual(b);
        expect(a.ok).toBe(false);
      }
    }
    // Through guards: one guard's accepting cache does not open another's door.
    const guards = [{ audience: 'chat', maxTokenAgeSec: false as const }, { audience: 'other' }];
    const [open, shut] = guards.map((o) =>
      testGuard(createMemoryStore(), { jwt: { ...HS, ...o }, penalties: false }),
    ) as [ReturnType<typeof testGuard>, ReturnType<typeof testGuard>];
    for (let i = 0; i < 3; i++) expect((await open.upgrade({ token })).ok).toBe(true);
    const d = await shut.upgrade({ token });
    expect(d).toMatchObject({ ok: false, reason: 'credentials_invalid' });
  });

  it('holds: the clock moved back before iat/nbf and forward past exp/max age answers as uncached (HS and ES paths)', async () => {
    clockAt(T0);
    const es = await generateKeyPair('ES256');
    const esSign = (claims: JWTPayload) =>
      new SignJWT({ sub: 'alice', ...claims })
        .setProtectedHeader({ alg: 'ES256' })
        .sign(es.privateKey);
    const configs: [JwtOptions, (c: JWTPayload) => Promise<string>][] = [
      [{ ...HS, clockToleranceSec: 0, maxTokenAgeSec: 100 }, (c) => hs(c)],
      [{ ...HS, clockToleranceSec: 5, maxTokenAgeSec: 100 }, (c) => hs(c)],
      [{ ...HS, clockToleranceSec: 3, maxTokenAgeSec: false }, (c) => hs(c)],
      [
        {
          algorithms: ['ES256'],
          publicKey: (await exportJWK(es.publicKey)) as JWK,
          clockToleranceSec: 2,
          maxTokenAgeSec: 100,
        },
        esSign,
      ],
    ];
    const claimSets: JWTPayload[] = [
      { iat: T0, exp: T0 + 60 },
      { iat: T0, nbf: T0 + 10, exp: T0 + 60 },
      { nbf: T0 - 5, exp: T0 + 200 },
      { iat: T0 - 50, exp: T0 + 500 },
      { exp: T0 + 30 },
    ];
    // Moments (seconds from T0): around every boundary of the claims above, both ways.
    const moments = [
      0, 0, 0, 1, -1, -2, -3, -4, -5, -6, -7, 10, 9, 8, 5, 4, 11, 30, 31, 35, 36, 29, 0, 50, 55, 56,
      59, 60, 61, 65, 66, 40, 100, 101, 105, 106, 99, -100, 0, 150, 200, 201, 205, 206, 0,
    ];
    for (const [options, sign] of configs) {
      setClock(T0);
      const tokens = await Promise.all(claimSets.map(sign));
      const p = probe();
      const v = {
        cached: createJwtVerifier({ ...options, cache: 1000, principal: p.principal }),
        plain: createJwtVerifier({ ...options, cache: false }),
      };
      for (const m of moments) {
        setClock(T0 + m);
        for (const token of tokens) {
          const { a, b } = await both(v, token);
          expect(a, `${JSON.stringify(options.algorithms)} t=${m}`).toEqual(b);
        }
      }
      expect(p.hits()).toBeGreaterThan(20); // the remembered path was exercised
    }
  });

  it('holds: concurrent verifications of one remembered token while the clock crosses exp', async () => {
    clockAt(T0);
    const token = await hs({ iat: T0, exp: T0 + 10 });
    const v = pair({ ...HS, clockToleranceSec: 0 });
    for (let i = 0; i < 2; i++) await both(v, token);
    const runs: Promise<unknown>[][] = [[], []];
    for (let s = 5; s <= 15; s++) {
      setClock(T0 + s);
      runs[0]!.push(outcome(() => v.cached.verify(token)));
      runs[1]!.push(outcome(() => v.plain.verify(token)));
    }
    const [a, b] = await Promise.all(runs.map((r) => Promise.all(r)));
    expect(a).toEqual(b);
    expect(a!.filter((x) => (x as { ok: boolean }).ok)).toHaveLength(5); // 5..9 s
  });

  it('holds: the principal mapper runs on every hit (throws, undefined, a deny-list)', async () => {
    clockAt(T0);
    const token = await hs({ iat: T0, exp: T0 + 600 });
    const denied = new Set<string>();
    let calls = 0;
    const principal: JwtOptions['principal'] = (claims) => {
      calls++;
      if (calls === 4) throw new CredentialError('mapper refused');
      if (calls === 5) return undefined;
      if (denied.has(claims['sub'] as string)) throw new CredentialError('denied');
      return principalFromClaims(claims);
    };
    const v = createJwtVerifier({ ...HS, principal });
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push(await outcome(() => v.verify(token)));
    denied.add('alice');
    seen.push(await outcome(() => v.verify(token)));
    expect(seen.map((o) => (o.ok ? 'ok' : o.message))).toEqual([
      'ok',
      'ok',
      'ok',
      'mapper refused',
      'token has no usable subject',
      'denied',
    ]);
  });

  it('found in review: a principal mapper that strips registered claims from its argument lets a remembered token outlive its exp', async () => {
    clockAt(T0);
    const token = await hs({ iat: T0, exp: T0 + 60, roles: ['user'] });
    // "Keep only the app's claims on the principal": deletes exp/iat/nbf from what it is handed.
    // The type says read-only, the docs say do not; nothing stops it, and uncached it is harmless.
    const principal: JwtOptions['principal'] = (claims) => {
      const c = claims as Record<string, unknown>;
      const expiresAt = typeof c['exp'] === 'number' ? c['exp'] * 1000 : undefined;
      delete c['exp'];
      delete c['iat'];
      delete c['nbf'];
      return {
        sub: c['sub'] as string,
        roles: [],
        permissions: [],
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        claims: c,
      };
    };
    const v = pair({ ...HS, principal, clockToleranceSec: 0 });
    // Fixed: verified claims are frozen on every path, hit or miss, so such a mapping fails on
    // every verification alike (in strict code it throws; a sloppy one changes nothing) and
    // cannot reach what the next hit is checked against.
    for (let i = 0; i < 3; i++) {
      const { a, b } = await both(v, token);
      expect(a).toEqual(b);
      expect(a).toMatchObject({ ok: false, kind: 'other' });
    }
    setClock(T0 + 3600); // an hour past exp
    const { a, b } = await both(v, token);
    expect(b).toMatchObject({ ok: false, expired: true });
    expect(a).toEqual(b);
  });

  it('holds: tokens of 0-4 characters and over 4096 characters answer as uncached; long ones are never remembered', async () => {
    clockAt(T0);
    const v = pair(HS);
    for (const t of ['', 'a', '..', 'a.b', '...', 'a.b.', '.b.c', 'ab.c', '\uffff', '\ud800.x']) {
      for (let i = 0; i < 3; i++) {
        const { a, b } = await both(v, t);
        expect(a, JSON.stringify(t)).toEqual(b);
        expect(a).toMatchObject({ ok: false, kind: 'credential' });
      }
    }
    const p = probe();
    const cached = createJwtVerifier({ ...HS, principal: p.principal });
    const long = await hs({ iat: T0, exp: T0 + 600, pad: 'x'.repeat(4000) });
    // The longest text still remembered: 4,096 characters or just under (base64 steps of 4).
    const padded = (n: number) =>
      hsFast({ sub: 'alice', iat: T0, exp: T0 + 600, pad: 'y'.repeat(n) });
    let n = 3072;
    while (n > 0 && padded(n).length > 4096) n--;
    const exact = padded(n);
    expect(long.length).toBeGreaterThan(4096);
    for (let i = 0; i < 4; i++) expect((await outcome(() => cached.verify(long))).ok).toBe(true);
    expect(p.hits()).toBe(0);
    for (let i = 0; i < 4; i++) expect((await outcome(() => cached.verify(exact))).ok).toBe(true);
    expect(exact.length).toBeLessThanOrEqual(4096);
    expect(exact.length).toBeGreaterThan(4090);
    expect(p.hits()).toBe(2);
  });

  it('holds: thousands of distinct valid tokens keep the cache to its bound, oldest out first', async () => {
    clockAt(T0);
    const p = probe();
    const v = createJwtVerifier({ ...HS, cache: 8, principal: p.principal });
    const tokens = Array.from({ length: 3000 }, (_, i) =>
      hsFast({ sub: `u${i}`, iat: T0, exp: T0 + 600 }),
    );
    for (const t of tokens) {
      await v.verify(t);
      await v.verify(t);
    }
    const before = p.hits();
    // The last eight come back as hits, the first ones were pushed out.
    for (const t of tokens.slice(-8)) await v.verify(t);
    expect(p.hits() - before).toBe(8);
    const mid = p.hits();
    for (const t of tokens.slice(0, 50)) await v.verify(t);
    expect(p.hits() - mid).toBe(0);
  });

  it('holds: a remembered token since expired is refused at the handshake, refresh and first message as uncached', async () => {
    clockAt(T0);
    const token = await hs({ iat: T0, exp: T0 + 60, roles: ['user'] });
    const mk = (cache: number | false) =>
      testGuard(createMemoryStore(), {
        jwt: { ...HS, cache },
        allowAnonymous: true,
        penalties: false,
        credentials: { header: true, firstMessage: true },
      });
    const results = [];
    for (const cache of [1000, false] as const) {
      setClock(T0);
      const g = mk(cache);
      for (let i = 0; i < 3; i++)
        expect((await g.upgrade({ token, ip: `203.0.113.${i + 1}` })).ok).toBe(true);
      const socket = await g.open({ ip: '203.0.113.50', token });
      setClock(T0 + 120);
      const anon = await g.upgrade({ ip: '203.0.113.51', origin: ORIGIN }); // pending, its deadline ahead
      const hand = await g.upgrade({ token, ip: '203.0.113.52' });
      let refresh: unknown;
      try {
        await g.guard.refresh(socket.connection, token);
        refresh = 'accepted';
      } catch (e) {
        refresh = {
          name: (e as Error).name,
          message: (e as Error).message,
          expired: (e as CredentialError).expired,
        };
      }
      let first: unknown = 'no pending connection';
      if (anon.ok) {
        attach(g.guard, anon.connection);
        first = await g.guard.message(anon.connection, JSON.stringify({ type: 'auth', token }));
      }
      const verifyToken = await outcome(() => g.guard.verifyToken(token));
      results.push({
        hand: hand.ok
          ? 'accepted'
          : { reason: hand.reason, status: hand.status, closeCode: hand.closeCode },
        refresh,
        first,
        verifyToken,
      });
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[1]).toMatchObject({
      hand: { reason: 'expired' },
      refresh: { expired: true },
      first: { action: 'close', reason: 'expired', code: 4002 },
      verifyToken: { ok: false, expired: true },
    });
  });
});

describe('verified-token cache with a remote key set (review)', () => {
  let server: Server;
  let base = '';
  let keys: JWK[] = [];
  let k1: { privateKey: JoseCryptoKey; jwk: JWK };
  let k2: { privateKey: JoseCryptoKey; jwk: JWK };

  beforeAll(async () => {
    const pairOf = async (kid: string) => {
      const kp = await generateKeyPair('ES256');
      return {
        privateKey: kp.privateKey,
        jwk: { ...(await exportJWK(kp.publicKey)), kid, alg: 'ES256', use: 'sig' },
      };
    };
    k1 = await pairOf('k1');
    k2 = await pairOf('k2');
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const esSign = (key: { privateKey: JoseCryptoKey; jwk: JWK }, claims: JWTPayload) =>
    new SignJWT({ sub: 'alice', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.jwk.kid! })
      .sign(key.privateKey);

  /** Both verifiers on their own remote key set (`path` keeps jose's state apart per test). */
  const remotePair = (path: string) => {
    const options: JwtOptions = { algorithms: ['ES256'], jwks: `${base}/${path}` };
    return pair(options);
  };

  it("found in review: a token in steady use whose key was removed is re-remembered each minute and accepted past jose's key cache", async () => {
    clockAt(T0);
    keys = [k1.jwk];
    const v = remotePair('quiet');
    const token = await esSign(k1, { iat: T0, exp: T0 + 3600 });
    for (let i = 0; i < 3; i++) expect((await both(v, token)).a.ok).toBe(true);
    keys = [k2.jwk]; // k1 out; each jose serves its copy of the set until T0 + 600
    // The client reconnects now and then: each miss after an entry's 60 s verifies with jose's
    // (still fresh) copy and remembers the token for 60 s more, the last time at 599 s.
    const seen: string[] = [];
    for (const m of [30, 59, 60, 61, 120, 300, 599, 601, 620, 700]) {
      setClock(T0 + m);
      const { a, b } = await both(v, token);
      seen.push(`t=${m} cached ${a.ok ? 'ok' : 'refused'}, uncached ${b.ok ? 'ok' : 'refused'}`);
    }
    // jose stops using k1 at 600 s (its copy is stale, the reload has no k1): so must the cache.
    expect(seen.filter((x) => x.includes('cached ok, uncached refused'))).toEqual([]);
  });

  it('found in review: after a key rotation reloads jose (a token with the new kid), a remembered token of the removed key is still accepted', async () => {
    clockAt(T0);
    keys = [k1.jwk];
    const v = remotePair('rotation');
    const old = await esSign(k1, { iat: T0, exp: T0 + 3600 });
    for (let i = 0; i < 3; i++) expect((await both(v, old)).a.ok).toBe(true);
    // The issuer takes k1 out (compromised) and signs with k2 from now on.
    keys = [k2.jwk];
    setClock(T0 + 31); // past jose's 30 s cooldown
    const fresh = await esSign(k2, { iat: T0 + 31, exp: T0 + 3600 });
    const f = await both(v, fresh); // an unknown kid: each verifier's jose reloads the set
    expect(f.a.ok && f.b.ok).toBe(true);
    const { a, b } = await both(v, old);
    expect(b).toMatchObject({ ok: false, message: 'invalid token' }); // jose no longer has k1
    expect(a).toEqual(b);
  });
});
