/**
 * The JWT battery: every classic forgery and misconfiguration, through `createJwtVerifier` and
 * through `guard.upgrade` (reason and close code), plus key handling (PEM, JWK, local and remote
 * JWKS) and the mapping of claims to a principal.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  type CryptoKey as JoseCryptoKey,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Accept,
  type AuditEvent,
  CredentialError,
  createGuard,
  createJwtVerifier,
  type Guard,
  GuardConfigError,
  type GuardOptions,
  type JwtOptions,
  type Reject,
  StoreUnavailableError,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';
const SECRET = 'jwt-battery-secret-0123456789abcdef-XYZ';
const KEY = new TextEncoder().encode(SECRET);
const nowSec = (): number => Math.floor(Date.now() / 1000);

const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact JWS assembled by hand, for headers and signatures jose refuses to produce. */
const compact = (header: object, payload: object, signature = ''): string =>
  `${b64url(header)}.${b64url(payload)}.${signature}`;

interface SignOptions {
  alg?: string;
  key?: Uint8Array | JoseCryptoKey;
  header?: Record<string, unknown>;
  exp?: number | null;
}

function sign(claims: JWTPayload = {}, o: SignOptions = {}): Promise<string> {
  const jwt = new SignJWT({ sub: 'alice', ...claims }).setProtectedHeader({
    alg: o.alg ?? 'HS256',
    ...o.header,
  });
  const exp = o.exp === undefined ? nowSec() + 300 : o.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(o.key ?? KEY);
}

function guardFor(jwt: JwtOptions, extra: Partial<GuardOptions> = {}): Guard {
  return createGuard({
    origins: [APP],
    jwt,
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    onError: () => {},
    ...extra,
  });
}

function upgradeBearer(guard: Guard, token: string): Promise<Accept | Reject> {
  return guard.upgrade({
    request: new Request('http://localhost/ws', {
      headers: { origin: APP, authorization: `Bearer ${token}` },
    }),
    ip: '192.0.2.10',
  });
}

async function expectGuardRejects(
  guard: Guard,
  token: string,
  reason: 'credentials_invalid' | 'expired' = 'credentials_invalid',
): Promise<void> {
  const d = await upgradeBearer(guard, token);
  expect(d.ok).toBe(false);
  if (d.ok) return;
  expect(d.reason).toBe(reason);
  expect(d.closeCode).toBe(reason === 'expired' ? 4002 : 4001);
  expect(d.status).toBe(401);
  expect(d.mode).toBe('close');
}

async function expectGuardAccepts(guard: Guard, token: string, sub = 'alice'): Promise<Accept> {
  const d = await upgradeBearer(guard, token);
  if (!d.ok) throw new Error(`expected acceptance, got ${d.reason}`);
  expect(d.connection.principal?.sub).toBe(sub);
  return d;
}

async function expectUnavailable(
  verify: (t: string) => Promise<unknown>,
  token: string,
): Promise<void> {
  const error = await verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreUnavailableError);
}

async function expectInvalid(
  verify: (t: string) => Promise<unknown>,
  token: string,
  expired = false,
): Promise<void> {
  const error = await verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialError);
  expect((error as CredentialError).expired).toBe(expired);
  expect((error as CredentialError).code).toBe(
    expired ? 'ERR_WSGUARD_EXPIRED' : 'ERR_WSGUARD_CREDENTIALS',
  );
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

const HS: JwtOptions = { algorithms: ['HS256'], secret: SECRET };

let rsa: { publicKey: JoseCryptoKey; privateKey: JoseCryptoKey; pem: string; jwk: JWK };
let ec1: { publicKey: JoseCryptoKey; privateKey: JoseCryptoKey; pem: string; jwk: JWK };
let ec2: { publicKey: JoseCryptoKey; privateKey: JoseCryptoKey; pem: string; jwk: JWK };
let attacker: { publicKey: JoseCryptoKey; privateKey: JoseCryptoKey };

async function keyPair(alg: string) {
  const pair = await generateKeyPair(alg, { extractable: true });
  return {
    ...pair,
    pem: await exportSPKI(pair.publicKey),
    jwk: await exportJWK(pair.publicKey),
  };
}

beforeAll(async () => {
  [rsa, ec1, ec2, attacker] = await Promise.all([
    keyPair('RS256'),
    keyPair('ES256'),
    keyPair('ES256'),
    generateKeyPair('ES256'),
  ]);
});

describe('good path', () => {
  it('verifies an HS256 token and maps it to a principal', async () => {
    const v = createJwtVerifier(HS);
    const p = await v.verify(await sign({ roles: ['user'] }));
    expect(p.sub).toBe('alice');
    expect(p.roles).toEqual(['user']);
  });

  it('accepts an HS256 token through the guard', async () => {
    await expectGuardAccepts(guardFor(HS), await sign());
  });
});

describe("alg 'none'", () => {
  const casings = ['none', 'None', 'NONE', 'nOnE'];
  const claims = { sub: 'admin', exp: nowSec() + 300 };

  for (const alg of casings) {
    it(`refuses alg ${JSON.stringify(alg)} with an empty signature (HS verifier and guard)`, async () => {
      const t = compact({ alg, typ: 'JWT' }, claims);
      await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
      await expectGuardRejects(guardFor(HS), t);
    });

    it(`refuses alg ${JSON.stringify(alg)} against public-key and JWKS verifiers`, async () => {
      const t = compact({ alg, typ: 'JWT' }, claims);
      const pem = createJwtVerifier({ algorithms: ['RS256'], publicKey: rsa.pem });
      await expectInvalid((x) => pem.verify(x), t);
      const jwks = createJwtVerifier({
        algorithms: ['ES256'],
        jwks: { keys: [{ ...ec1.jwk, kid: 'k1' }] },
      });
      await expectInvalid((x) => jwks.verify(x), compact({ alg, kid: 'k1' }, claims));
    });
  }

  it("refuses alg 'none' carrying a signature copied from a genuine token", async () => {
    const genuine = await sign();
    const sig = genuine.split('.')[2]!;
    const t = compact({ alg: 'none' }, { sub: 'admin', exp: nowSec() + 300 }, sig);
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
  });

  it('refuses a header without alg', async () => {
    const t = compact({ typ: 'JWT' }, { sub: 'admin', exp: nowSec() + 300 });
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
  });

  it("refuses 'none' in the configured algorithms at start-up, in any casing", () => {
    for (const alg of casings) {
      const problems = configProblems({
        origins: [APP],
        jwt: { algorithms: [alg as 'HS256'], secret: SECRET },
      });
      expect(problems).toContainEqual(expect.stringMatching(/^jwt\.algorithms: 'none'/));
    }
  });
});

describe('RS256 → HS256 key confusion', () => {
  it('refuses an HS256 token signed with the RSA public PEM as the HMAC secret', async () => {
    const t = await sign(
      { sub: 'admin' },
      { alg: 'HS256', key: new TextEncoder().encode(rsa.pem) },
    );
    const opts: JwtOptions = { algorithms: ['RS256'], publicKey: rsa.pem };
    await expectInvalid((x) => createJwtVerifier(opts).verify(x), t);
    await expectGuardRejects(guardFor(opts), t);
  });

  it('refuses it with the PEM trimmed, with a JWK public key and with a JWKS too', async () => {
    for (const secret of [rsa.pem.trim(), JSON.stringify(rsa.jwk)]) {
      const t = await sign({ sub: 'admin' }, { key: new TextEncoder().encode(secret) });
      for (const opts of [
        { algorithms: ['RS256'], publicKey: rsa.pem },
        { algorithms: ['RS256'], publicKey: rsa.jwk },
        { algorithms: ['RS256'], publicKey: rsa.publicKey },
        { algorithms: ['RS256'], jwks: { keys: [rsa.jwk] } },
      ] as JwtOptions[]) {
        await expectInvalid((x) => createJwtVerifier(opts).verify(x), t);
      }
    }
  });

  it('still accepts a genuine RS256 token with the same verifier', async () => {
    const t = await sign({}, { alg: 'RS256', key: rsa.privateKey });
    const v = createJwtVerifier({ algorithms: ['RS256'], publicKey: rsa.pem });
    expect((await v.verify(t)).sub).toBe('alice');
  });

  it('refuses a PEM configured as an HMAC secret at start-up', () => {
    const problems = configProblems({
      origins: [APP],
      jwt: { algorithms: ['HS256'], secret: rsa.pem },
    });
    expect(problems).toEqual([expect.stringMatching(/^jwt\.secret: this looks like a PEM or JWK/)]);
    expect(() => createJwtVerifier({ algorithms: ['HS256'], secret: rsa.pem })).toThrow(TypeError);
  });

  it('refuses a PEM handed over as bytes (readFileSync returns a Buffer) as an HMAC secret', async () => {
    for (const secret of [Buffer.from(rsa.pem), new TextEncoder().encode(rsa.pem)]) {
      const problems = configProblems({
        origins: [APP],
        jwt: { algorithms: ['HS256'], secret },
      });
      expect(problems).toEqual([
        expect.stringMatching(/^jwt\.secret: this looks like a PEM or JWK/),
      ]);
      expect(() => createJwtVerifier({ algorithms: ['HS256'], secret })).toThrow(TypeError);
    }
    const jwkBytes = Buffer.from(JSON.stringify(rsa.jwk));
    expect(() => createJwtVerifier({ algorithms: ['HS256'], secret: jwkBytes })).toThrow(TypeError);
  });

  it('still accepts random binary secrets of 32 bytes, even one starting with "{"', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    bytes[0] = 0x7b; // '{'
    expect(() => createJwtVerifier({ algorithms: ['HS256'], secret: bytes })).not.toThrow();
  });

  it('refuses a JWK (as JSON text) configured as an HMAC secret at start-up', () => {
    const problems = configProblems({
      origins: [APP],
      jwt: { algorithms: ['HS256'], secret: JSON.stringify(rsa.jwk) },
    });
    expect(problems).toEqual([expect.stringMatching(/^jwt\.secret: this looks like a PEM or JWK/)]);
  });

  it('refuses HMAC and public-key algorithms mixed in one verifier', () => {
    const problems = configProblems({
      origins: [APP],
      jwt: { algorithms: ['HS256', 'RS256'], publicKey: rsa.pem },
    });
    expect(problems).toContainEqual(expect.stringMatching(/HMAC \(HS\*\) and public-key/));
    expect(() => createJwtVerifier({ algorithms: ['RS256', 'HS256'], secret: SECRET })).toThrow(
      TypeError,
    );
  });

  it('refuses a public key or JWKS paired with HS algorithms', () => {
    expect(
      configProblems({ origins: [APP], jwt: { algorithms: ['HS256'], publicKey: rsa.pem } }),
    ).toContainEqual(expect.stringMatching(/verifies asymmetric algorithms only/));
    expect(
      configProblems({ origins: [APP], jwt: { algorithms: ['HS256'], jwks: { keys: [] } } }),
    ).toContainEqual(expect.stringMatching(/verifies asymmetric algorithms only/));
  });

  it('refuses a secret paired with public-key algorithms', () => {
    expect(
      configProblems({ origins: [APP], jwt: { algorithms: ['RS256'], secret: SECRET } }),
    ).toContainEqual(expect.stringMatching(/^jwt\.secret: a secret only verifies HS\*/));
  });
});

describe('tampering', () => {
  it('refuses a token whose payload was changed after signing', async () => {
    const [h, , s] = (await sign({ roles: ['user'] })).split('.');
    const payload = b64url({ sub: 'alice', roles: ['admin'], exp: nowSec() + 300 });
    const t = `${h}.${payload}.${s}`;
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
    await expectGuardRejects(guardFor(HS), t);
  });

  it('refuses a token whose subject was swapped', async () => {
    const genuine = await sign();
    const [h, p, s] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as JWTPayload;
    const t = `${h}.${b64url({ ...claims, sub: 'admin' })}.${s}`;
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
  });

  it('refuses a token whose header alg was changed', async () => {
    const [, p, s] = (await sign()).split('.');
    const t = `${b64url({ alg: 'HS384' })}.${p}.${s}`;
    await expectInvalid(
      (x) => createJwtVerifier({ algorithms: ['HS256', 'HS384'], secret: SECRET }).verify(x),
      t,
    );
  });

  it('refuses a token with the signature removed, truncated or flipped', async () => {
    const genuine = await sign();
    const [h, p, s] = genuine.split('.') as [string, string, string];
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const v = createJwtVerifier(HS);
    for (const t of [
      `${h}.${p}.`,
      `${h}.${p}`,
      `${h}.${p}.${s.slice(0, -2)}`,
      `${h}.${p}.${flipped}`,
    ]) {
      await expectInvalid((x) => v.verify(x), t);
    }
  });

  it('refuses a token signed with another secret', async () => {
    const t = await sign(
      {},
      { key: new TextEncoder().encode('another-secret-0123456789abcdef-XYZ!') },
    );
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
  });

  it('refuses garbage without crashing', async () => {
    const v = createJwtVerifier(HS);
    for (const t of [
      '',
      '.',
      '..',
      'a.b.c',
      'eyJ.eyJ.',
      '💥.💥.💥',
      '{"alg":"none"}',
      'a'.repeat(5000),
    ]) {
      await expectInvalid((x) => v.verify(x), t);
    }
  });
});

describe('time claims', () => {
  it('refuses a token without exp', async () => {
    const t = await sign({}, { exp: null });
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
    await expectGuardRejects(guardFor(HS), t, 'credentials_invalid');
  });

  it('refuses a non-numeric exp', async () => {
    const t = await sign({ exp: 'never' as unknown as number }, { exp: null });
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t);
  });

  it('reports an expired token as expired (CredentialError.expired, reject 4002)', async () => {
    const t = await sign({}, { exp: nowSec() - 60 });
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t, true);
    await expectGuardRejects(guardFor(HS), t, 'expired');
  });

  it('refuses a token whose nbf is in the future as invalid, not expired', async () => {
    const t = await sign({ nbf: nowSec() + 120 });
    await expectInvalid((x) => createJwtVerifier(HS).verify(x), t, false);
    await expectGuardRejects(guardFor(HS), t, 'credentials_invalid');
  });

  it('honours the default clock tolerance of 5 s for exp and nbf', async () => {
    const v = createJwtVerifier(HS);
    expect((await v.verify(await sign({}, { exp: nowSec() - 2 }))).sub).toBe('alice');
    expect((await v.verify(await sign({ nbf: nowSec() + 2 }))).sub).toBe('alice');
  });

  it('honours a configured clock tolerance', async () => {
    const strict = createJwtVerifier({ ...HS, clockToleranceSec: 0 });
    await expectInvalid((x) => strict.verify(x), await sign({}, { exp: nowSec() - 2 }), true);
    await expectInvalid((x) => strict.verify(x), await sign({ nbf: nowSec() + 30 }), false);
    const lenient = createJwtVerifier({ ...HS, clockToleranceSec: 120 });
    expect((await lenient.verify(await sign({}, { exp: nowSec() - 60 }))).sub).toBe('alice');
    expect((await lenient.verify(await sign({ nbf: nowSec() + 60 }))).sub).toBe('alice');
    await expectInvalid((x) => lenient.verify(x), await sign({}, { exp: nowSec() - 600 }), true);
  });

  it('carries exp into the principal and the connection', async () => {
    const exp = nowSec() + 300;
    const d = await expectGuardAccepts(guardFor(HS), await sign({}, { exp }));
    expect(d.connection.principal?.expiresAt).toBe(exp * 1000);
    expect(d.connection.expiresAt).toBe(exp * 1000);
  });
});

describe('iss, aud and typ', () => {
  const opts: JwtOptions = {
    ...HS,
    issuer: 'https://auth.example.com',
    audience: 'wsguard',
    typ: 'at+jwt',
  };
  const good = () =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://auth.example.com')
      .setAudience('wsguard')
      .setExpirationTime('5m');

  it('accepts a token with the configured iss, aud and typ', async () => {
    const v = createJwtVerifier(opts);
    expect((await v.verify(await good().sign(KEY))).sub).toBe('alice');
    await expectGuardAccepts(guardFor(opts), await good().sign(KEY));
  });

  it('accepts aud as an array containing the audience', async () => {
    const t = await good().setAudience(['other', 'wsguard']).sign(KEY);
    expect((await createJwtVerifier(opts).verify(t)).sub).toBe('alice');
  });

  it('refuses a wrong or missing iss', async () => {
    const v = createJwtVerifier(opts);
    await expectInvalid((x) => v.verify(x), await good().setIssuer('https://evil.io').sign(KEY));
    await expectInvalid(
      (x) => v.verify(x),
      await good().setIssuer('https://auth.example.com.evil.io').sign(KEY),
    );
    const noIss = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setAudience('wsguard')
      .setExpirationTime('5m')
      .sign(KEY);
    await expectInvalid((x) => v.verify(x), noIss);
    await expectGuardRejects(guardFor(opts), noIss);
  });

  it('refuses a wrong or missing aud', async () => {
    const v = createJwtVerifier(opts);
    await expectInvalid((x) => v.verify(x), await good().setAudience('other').sign(KEY));
    await expectInvalid((x) => v.verify(x), await good().setAudience(['a', 'b']).sign(KEY));
    const noAud = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://auth.example.com')
      .setExpirationTime('5m')
      .sign(KEY);
    await expectInvalid((x) => v.verify(x), noAud);
    await expectGuardRejects(guardFor(opts), noAud);
  });

  it('refuses a wrong or missing typ', async () => {
    const v = createJwtVerifier(opts);
    for (const header of [
      { alg: 'HS256', typ: 'JWT' },
      { alg: 'HS256' },
      { alg: 'HS256', typ: 'id+jwt' },
    ]) {
      const t = await new SignJWT({ sub: 'alice' })
        .setProtectedHeader(header)
        .setIssuer('https://auth.example.com')
        .setAudience('wsguard')
        .setExpirationTime('5m')
        .sign(KEY);
      await expectInvalid((x) => v.verify(x), t);
    }
  });

  it('accepts any iss when no issuer is configured', async () => {
    const t = await sign({ iss: 'whoever' });
    expect((await createJwtVerifier(HS).verify(t)).sub).toBe('alice');
  });
});

describe('kid injection against a local JWKS', () => {
  const injections = [
    '../../etc/passwd',
    "' OR 1=1 --",
    'k1" OR "1"="1',
    '__proto__',
    'constructor',
    'toString',
    '{"$ne":null}',
    '\u0000',
    '%00',
    'http://169.254.169.254/latest/meta-data/',
    'k'.repeat(4000),
    '',
  ];

  const jwksOpts = (): JwtOptions => ({
    algorithms: ['ES256'],
    jwks: { keys: [{ ...ec1.jwk, kid: 'k1', alg: 'ES256', use: 'sig' }] },
  });

  for (const kid of injections) {
    const label =
      kid.length > 40 ? `${kid.slice(0, 10)}… (${kid.length} chars)` : JSON.stringify(kid);
    it(`refuses kid ${label} signed by an attacker's key, without crashing`, async () => {
      const t = await sign(
        { sub: 'admin' },
        { alg: 'ES256', key: attacker.privateKey, header: { kid } },
      );
      await expectInvalid((x) => createJwtVerifier(jwksOpts()).verify(x), t);
      await expectGuardRejects(guardFor(jwksOpts()), t);
    });
  }

  it('refuses non-string kid values', async () => {
    for (const kid of [1, null, {}, ['k1'], { toString: 'k1' }, true]) {
      const t = compact({ alg: 'ES256', kid }, { sub: 'admin', exp: nowSec() + 300 }, 'AAAA');
      await expectInvalid((x) => createJwtVerifier(jwksOpts()).verify(x), t);
    }
  });

  it('refuses the right kid on a token signed with another key', async () => {
    const t = await sign(
      { sub: 'admin' },
      { alg: 'ES256', key: attacker.privateKey, header: { kid: 'k1' } },
    );
    await expectInvalid((x) => createJwtVerifier(jwksOpts()).verify(x), t);
  });

  it('ignores kid with a single configured public key: only the key decides', async () => {
    const opts: JwtOptions = { algorithms: ['ES256'], publicKey: ec1.pem };
    const good = await sign(
      {},
      { alg: 'ES256', key: ec1.privateKey, header: { kid: '../../etc/passwd' } },
    );
    expect((await createJwtVerifier(opts).verify(good)).sub).toBe('alice');
    const bad = await sign(
      {},
      { alg: 'ES256', key: attacker.privateKey, header: { kid: "' OR 1=1 --" } },
    );
    await expectInvalid((x) => createJwtVerifier(opts).verify(x), bad);
  });
});

describe('secrets at start-up', () => {
  it('refuses an empty secret', () => {
    const problems = configProblems({ origins: [APP], jwt: { algorithms: ['HS256'], secret: '' } });
    expect(problems).toEqual([expect.stringMatching(/^jwt\.secret: 0 bytes is guessable/)]);
    expect(() => createJwtVerifier({ algorithms: ['HS256'], secret: '' })).toThrow(TypeError);
  });

  it('refuses a secret of 31 bytes, as a string or as bytes', () => {
    expect(
      configProblems({ origins: [APP], jwt: { algorithms: ['HS256'], secret: 's'.repeat(31) } }),
    ).toEqual([expect.stringMatching(/^jwt\.secret: 31 bytes is guessable/)]);
    expect(
      configProblems({
        origins: [APP],
        jwt: { algorithms: ['HS256'], secret: new Uint8Array(31) },
      }),
    ).toEqual([expect.stringMatching(/^jwt\.secret: 31 bytes is guessable/)]);
  });

  it('counts bytes, not characters', () => {
    // 16 characters, 32 bytes in UTF-8.
    expect(() =>
      createJwtVerifier({ algorithms: ['HS256'], secret: '\u00e9'.repeat(16) }),
    ).not.toThrow();
    // 31 ASCII characters are 31 bytes.
    expect(() => createJwtVerifier({ algorithms: ['HS256'], secret: 'a'.repeat(31) })).toThrow(
      TypeError,
    );
  });

  it('accepts a 32-byte secret', () => {
    expect(() =>
      createGuard({
        origins: [APP],
        jwt: { algorithms: ['HS256'], secret: 's'.repeat(32) },
        audit: false,
      }),
    ).not.toThrow();
  });

  it('refuses no key source, or more than one', () => {
    expect(configProblems({ origins: [APP], jwt: { algorithms: ['HS256'] } })).toContainEqual(
      expect.stringMatching(/exactly one of secret, publicKey or jwks/),
    );
    expect(
      configProblems({
        origins: [APP],
        jwt: { algorithms: ['ES256'], publicKey: 'x', jwks: { keys: [] } },
      }),
    ).toContainEqual(expect.stringMatching(/exactly one of secret, publicKey or jwks/));
  });

  it('refuses missing or empty algorithms', () => {
    expect(
      configProblems({ origins: [APP], jwt: { algorithms: [], secret: SECRET } }),
    ).toContainEqual(expect.stringMatching(/^jwt\.algorithms: pin the algorithms/));
    expect(
      configProblems({
        origins: [APP],
        jwt: { secret: SECRET } as unknown as JwtOptions,
      }),
    ).toContainEqual(expect.stringMatching(/^jwt\.algorithms: pin the algorithms/));
  });
});

describe('ES256 keys', () => {
  it('verifies with a public JWK', async () => {
    const v = createJwtVerifier({ algorithms: ['ES256'], publicKey: ec1.jwk });
    expect((await v.verify(await sign({}, { alg: 'ES256', key: ec1.privateKey }))).sub).toBe(
      'alice',
    );
  });

  it('verifies with a PEM', async () => {
    const opts: JwtOptions = { algorithms: ['ES256'], publicKey: ec1.pem };
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey });
    expect((await createJwtVerifier(opts).verify(t)).sub).toBe('alice');
    await expectGuardAccepts(guardFor(opts), t);
  });

  it('verifies with a CryptoKey', async () => {
    const v = createJwtVerifier({
      algorithms: ['ES256'],
      publicKey: ec1.publicKey as unknown as CryptoKey,
    });
    expect((await v.verify(await sign({}, { alg: 'ES256', key: ec1.privateKey }))).sub).toBe(
      'alice',
    );
  });

  it('refuses a token signed by another EC key', async () => {
    const v = createJwtVerifier({ algorithms: ['ES256'], publicKey: ec1.pem });
    await expectInvalid((x) => v.verify(x), await sign({}, { alg: 'ES256', key: ec2.privateKey }));
  });

  it('refuses an algorithm that is not pinned, even with a matching key type', async () => {
    // The same RSA key, re-imported for PS256: a valid signature under an algorithm not pinned.
    const ps256 = await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256');
    const v = createJwtVerifier({ algorithms: ['RS256'], publicKey: rsa.pem });
    await expectInvalid((x) => v.verify(x), await sign({}, { alg: 'PS256', key: ps256 }));
    const both = createJwtVerifier({ algorithms: ['RS256', 'PS256'], publicKey: rsa.pem });
    expect((await both.verify(await sign({}, { alg: 'PS256', key: ps256 }))).sub).toBe('alice');
  });

  it('fails ready() for a malformed PEM and refuses tokens as a server fault (500), not as bad credentials', async () => {
    const opts: JwtOptions = {
      algorithms: ['ES256'],
      publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----',
    };
    const v = createJwtVerifier(opts);
    await expect(v.ready()).rejects.toBeDefined();
    const g = guardFor(opts);
    await expect(g.ready()).rejects.toBeDefined();
    const d = await upgradeBearer(g, await sign({}, { alg: 'ES256', key: ec1.privateKey }));
    expect(d).toMatchObject({ ok: false, reason: 'internal', status: 500, closeCode: 1011 });
  });
});

describe('local JWKS with two keys', () => {
  const opts = (): JwtOptions => ({
    algorithms: ['ES256'],
    jwks: {
      keys: [
        { ...ec1.jwk, kid: 'k1' },
        { ...ec2.jwk, kid: 'k2' },
      ],
    },
  });

  it('selects the key by kid', async () => {
    const v = createJwtVerifier(opts());
    const t1 = await sign(
      { sub: 'one' },
      { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k1' } },
    );
    const t2 = await sign(
      { sub: 'two' },
      { alg: 'ES256', key: ec2.privateKey, header: { kid: 'k2' } },
    );
    expect((await v.verify(t1)).sub).toBe('one');
    expect((await v.verify(t2)).sub).toBe('two');
    await expectGuardAccepts(guardFor(opts()), t2, 'two');
  });

  it('refuses a token whose kid names the other key', async () => {
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k2' } });
    await expectInvalid((x) => createJwtVerifier(opts()).verify(x), t);
  });

  it('refuses an unknown kid', async () => {
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k3' } });
    await expectInvalid((x) => createJwtVerifier(opts()).verify(x), t);
  });
});

describe('token length', () => {
  it('refuses a genuine token longer than 8192 characters at the guard', async () => {
    const t = await sign({ pad: 'x'.repeat(9000) });
    expect(t.length).toBeGreaterThan(8192);
    const g = guardFor(HS);
    await expectGuardRejects(g, t);
    await expect(g.verifyToken(t)).rejects.toBeInstanceOf(CredentialError);
  });

  it('accepts a genuine token just under the limit', async () => {
    let t = await sign({ pad: 'x'.repeat(5900) });
    expect(t.length).toBeLessThanOrEqual(8192);
    await expectGuardAccepts(guardFor(HS), t);
    t = await sign({ pad: 'x'.repeat(6200) });
    expect(t.length).toBeGreaterThan(8192);
    await expectGuardRejects(guardFor(HS), t);
  });
});

describe('remote JWKS', () => {
  const servers: Server[] = [];

  async function serve(
    handler: (url: string, res: import('node:http').ServerResponse) => void,
  ): Promise<{ base: string; hits: () => number }> {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      handler(req.url ?? '/', res);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, hits: () => hits };
  }

  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('fetches keys from a remote JWKS and verifies by kid', async () => {
    const { base, hits } = await serve((url, res) => {
      if (url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keys: [
            { ...ec1.jwk, kid: 'k1' },
            { ...ec2.jwk, kid: 'k2' },
          ],
        }),
      );
    });
    const opts: JwtOptions = { algorithms: ['ES256'], jwks: `${base}/.well-known/jwks.json` };
    const v = createJwtVerifier(opts);
    const t = await sign(
      { sub: 'remote' },
      { alg: 'ES256', key: ec2.privateKey, header: { kid: 'k2' } },
    );
    expect((await v.verify(t)).sub).toBe('remote');
    expect(hits()).toBeGreaterThanOrEqual(1);
    await expectGuardAccepts(guardFor(opts), t, 'remote');
    const forged = await sign(
      { sub: 'admin' },
      { alg: 'ES256', key: attacker.privateKey, header: { kid: 'k1' } },
    );
    await expectInvalid((x) => v.verify(x), forged);
  });

  it('accepts the JWKS location as a URL object', async () => {
    const { base } = await serve((_url, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ ...ec1.jwk, kid: 'k1' }] }));
    });
    const v = createJwtVerifier({ algorithms: ['ES256'], jwks: new URL(`${base}/jwks`) });
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k1' } });
    expect((await v.verify(t)).sub).toBe('alice');
  });

  it('treats an unreachable JWKS as an outage: 503 + Retry-After (back off), not 4001 (log in again)', async () => {
    const { base } = await serve(() => {});
    const closing = servers.pop()!;
    await new Promise((resolve) => closing.close(resolve));
    const opts: JwtOptions = { algorithms: ['ES256'], jwks: `${base}/jwks` };
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k1' } });
    await expectUnavailable((x) => createJwtVerifier(opts).verify(x), t);
    const d = await upgradeBearer(guardFor(opts), t);
    expect(d).toMatchObject({
      ok: false,
      reason: 'store_unavailable',
      status: 503,
      closeCode: 1013,
    });
    expect(d.ok === false && d.retryAfter).toBeGreaterThan(0);
  });

  it('treats a JWKS endpoint answering an error or garbage as an outage, not as a bad token', async () => {
    const { base } = await serve((url, res) => {
      if (url === '/500') res.writeHead(500).end('boom');
      else if (url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"nope"}');
    });
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k1' } });
    for (const path of ['/500', '/html', '/bad']) {
      const v = createJwtVerifier({ algorithms: ['ES256'], jwks: `${base}${path}` });
      await expectUnavailable((x) => v.verify(x), t);
    }
  });

  it('treats a JWKS endpoint that never answers as an outage once jose times out', async () => {
    const { base } = await serve(() => {
      // Never respond.
    });
    const v = createJwtVerifier({ algorithms: ['ES256'], jwks: `${base}/hang` });
    const t = await sign({}, { alg: 'ES256', key: ec1.privateKey, header: { kid: 'k1' } });
    await expectUnavailable((x) => v.verify(x), t);
  });
});

describe('principal mapping', () => {
  const verify = async (claims: JWTPayload) => createJwtVerifier(HS).verify(await sign(claims));

  it('reads roles from a roles array and permissions from a permissions array', async () => {
    const p = await verify({ roles: ['user', 'editor'], permissions: ['chat.send', 'room.*'] });
    expect(p.roles).toEqual(['user', 'editor']);
    expect(p.permissions).toEqual(['chat.send', 'room.*']);
  });

  it('reads a single role string and a space-separated scope', async () => {
    const p = await verify({ role: 'admin', scope: 'chat.send  chat.read' });
    expect(p.roles).toEqual(['admin']);
    expect(p.permissions).toEqual(['chat.send', 'chat.read']);
  });

  it('prefers roles over role and permissions over scope', async () => {
    const p = await verify({ roles: ['user'], role: 'admin', permissions: ['a'], scope: 'b c' });
    expect(p.roles).toEqual(['user']);
    expect(p.permissions).toEqual(['a']);
  });

  it('drops non-string entries and ignores claims of the wrong type', async () => {
    const p = await verify({ roles: ['user', 1, null, { admin: true }], permissions: 42 });
    expect(p.roles).toEqual(['user']);
    expect(p.permissions).toEqual([]);
  });

  it('gives empty roles and permissions when the token has none', async () => {
    const p = await verify({});
    expect(p.roles).toEqual([]);
    expect(p.permissions).toEqual([]);
  });

  it('refuses a token without a usable subject', async () => {
    const v = createJwtVerifier(HS);
    const noSub = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(KEY);
    await expectInvalid((x) => v.verify(x), noSub);
    await expectInvalid((x) => v.verify(x), await sign({ sub: '' }));
    await expectInvalid((x) => v.verify(x), await sign({ sub: 42 as unknown as string }));
    await expectInvalid((x) => v.verify(x), await sign({ sub: 'a'.repeat(257) }));
    await expectGuardRejects(guardFor(HS), noSub);
  });

  it('uses a custom principal mapping, and refuses when it returns undefined', async () => {
    const v = createJwtVerifier({
      ...HS,
      principal: (c) =>
        typeof c['uid'] === 'string'
          ? { sub: c['uid'], roles: ['custom'], permissions: [] }
          : undefined,
    });
    expect(await v.verify(await sign({ uid: 'u-1' }))).toEqual({
      sub: 'u-1',
      roles: ['custom'],
      permissions: [],
    });
    await expectInvalid((x) => v.verify(x), await sign({}));
  });

  it('expands roles into permissions through the guard role table', async () => {
    const g = guardFor(HS, { permissions: { roles: { user: ['chat.*'], admin: ['*'] } } });
    const d = await expectGuardAccepts(g, await sign({ roles: ['user'], scope: 'profile.read' }));
    const p = d.connection.principal!;
    expect(new Set(p.permissions)).toEqual(new Set(['profile.read', 'chat.*']));
    expect(g.can(p, 'chat.send')).toBe(true);
    expect(g.can(p, 'admin.kick')).toBe(false);
  });

  it('does not let a roles claim named __proto__ or a claims object prototype grant anything', async () => {
    const t = compact(
      { alg: 'HS256' },
      JSON.parse(`{"sub":"alice","exp":${nowSec() + 300},"__proto__":{"roles":["admin"]}}`),
    );
    // Re-sign properly: the claims are signed, so only the mapping is under test.
    const [h, p] = t.split('.');
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    const principal = await createJwtVerifier(HS).verify(`${h}.${p}.${sig}`);
    expect(principal.roles).toEqual([]);
    expect(({} as Record<string, unknown>)['roles']).toBeUndefined();
  });
});

describe('secrets stay out of the audit stream', () => {
  it('never writes a presented token into an audit event, valid or not', async () => {
    const events: AuditEvent[] = [];
    const g = guardFor(HS, {
      audit: (e) => events.push(e),
      credentials: { header: true, query: true },
    });
    const valid = await sign();
    const expired = await sign({}, { exp: nowSec() - 60 });
    const forged = `${valid.slice(0, -3)}abc`;
    for (const t of [valid, expired, forged]) {
      await upgradeBearer(g, t);
      await g.upgrade({
        request: new Request(`http://localhost/ws?token=${t}`, { headers: { origin: APP } }),
        ip: '192.0.2.10',
      });
    }
    expect(events.length).toBeGreaterThanOrEqual(6);
    const text = JSON.stringify(events);
    for (const t of [valid, expired, forged]) {
      expect(text).not.toContain(t);
      expect(text).not.toContain(t.split('.')[2]!);
    }
  });
});

describe('HMAC secrets given as other byte containers', () => {
  // Found in review: the synchronous HS* path once copied the secret with `Uint8Array.from`, which
  // turns an ArrayBuffer or a DataView into zero bytes: tokens MACed with an empty key verified.
  const real = new TextEncoder().encode('byte-container-secret-0123456789-abcdef');
  // Signed by hand: Web Crypto (and so jose) refuses to MAC with an empty key, an attacker does not.
  const signWith = async (key: Uint8Array, sub = 'admin') => {
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${part({ alg: 'HS256' })}.${part({ sub, roles: ['admin'], exp: nowSec() + 300 })}`;
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  };
  const padded = new Uint8Array(real.byteLength + 16);
  padded.set(real, 8);
  const cases: [string, () => JwtOptions['secret']][] = [
    ['an ArrayBuffer', () => real.slice().buffer as unknown as Uint8Array],
    ['a DataView', () => new DataView(real.slice().buffer) as unknown as Uint8Array],
    ['a Buffer', () => Buffer.from(real)],
    ['a Uint8Array over part of a larger buffer', () => padded.subarray(8, 8 + real.byteLength)],
  ];
  for (const [name, secret] of cases) {
    it(`uses exactly the secret's bytes when it is ${name}`, async () => {
      const v = createJwtVerifier({ algorithms: ['HS256'], secret: secret() });
      await expect(v.verify(await signWith(real, 'alice'))).resolves.toMatchObject({
        sub: 'alice',
      });
      await expect(v.verify(await signWith(new Uint8Array(0)))).rejects.toBeInstanceOf(
        CredentialError,
      );
      await expect(v.verify(await signWith(padded))).rejects.toBeInstanceOf(CredentialError);
      await expect(
        v.verify(await signWith(new TextEncoder().encode('another-secret-0123456789-abcdefghijk'))),
      ).rejects.toBeInstanceOf(CredentialError);
    });
  }

  it('refuses secrets that are not a string or bytes at start-up', () => {
    for (const secret of [{ byteLength: 64 }, { type: 'secret', symmetricKeySize: 64 }, 42]) {
      expect(
        () => createJwtVerifier({ algorithms: ['HS256'], secret: secret as unknown as Uint8Array }),
        JSON.stringify(secret),
      ).toThrow(/string or bytes/);
    }
  });

  it('refuses a negative or non-numeric clock tolerance at start-up, on every runtime alike', () => {
    for (const clockToleranceSec of [
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '5' as unknown as number,
    ]) {
      expect(() =>
        createJwtVerifier({ algorithms: ['HS256'], secret: real, clockToleranceSec }),
      ).toThrow(/clockToleranceSec/);
    }
  });
});
