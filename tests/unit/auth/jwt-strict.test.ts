/**
 * Strict tokens (issue 13, "Tokens"): one spelling per token, `aud` refused when no audience is
 * configured, `iat` in the future refused and old `iat` expired. Each rule on both verification
 * paths: HS256 tokens take the synchronous fast path (`jwt-hmac.ts`), RS256 and ES256 tokens go
 * through jose's `jwtVerify`, and the non-canonical HS256 spellings reach jose too (the fast path
 * does not take them). Through `createJwtVerifier` and through `guard.upgrade`.
 */
import { createHmac } from 'node:crypto';
import { generateKeyPair, type CryptoKey as JoseCryptoKey, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Accept,
  CredentialError,
  createGuard,
  createJwtVerifier,
  type Guard,
  GuardConfigError,
  type JwtOptions,
  type Reject,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';
const SECRET = 'jwt-strict-secret-0123456789abcdef-XYZ';
const KEY = new TextEncoder().encode(SECRET);
const nowSec = (): number => Math.floor(Date.now() / 1000);
const b64 = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');
const TEN_YEARS = 10 * 365 * 86_400;

type Alg = 'HS256' | 'RS256' | 'ES256';
let keys: Record<'RS256' | 'ES256', { publicKey: JoseCryptoKey; privateKey: JoseCryptoKey }>;

beforeAll(async () => {
  const [rs, es] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('ES256')]);
  keys = { RS256: rs, ES256: es };
});

const optionsFor = (alg: Alg, extra: Partial<JwtOptions> = {}): JwtOptions =>
  alg === 'HS256'
    ? { algorithms: ['HS256'], secret: SECRET, ...extra }
    : { algorithms: [alg], publicKey: keys[alg].publicKey, ...extra };

/** The signature of `input` (header.payload, exactly as given) by the issuer's key. */
async function signature(alg: Alg, input: string): Promise<string> {
  if (alg === 'HS256') return createHmac('sha256', KEY).update(input).digest('base64url');
  const params =
    alg === 'ES256'
      ? { name: 'ECDSA', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const bytes = await crypto.subtle.sign(
    params,
    keys[alg].privateKey as CryptoKey,
    new TextEncoder().encode(input),
  );
  return b64(new Uint8Array(bytes));
}

/** A token the issuer signed over exactly these segments (canonical or not). */
async function issued(alg: Alg, header: string, payload: string): Promise<string> {
  return `${header}.${payload}.${await signature(alg, `${header}.${payload}`)}`;
}

/** A genuine token from jose's own signer. */
function token(alg: Alg, claims: JWTPayload = {}, exp: number = nowSec() + 300): Promise<string> {
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg })
    .setExpirationTime(exp)
    .sign(alg === 'HS256' ? KEY : keys[alg].privateKey);
}

function guardFor(jwt: JwtOptions): Guard {
  return createGuard({
    origins: [APP],
    jwt,
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    onError: () => {},
  });
}

function upgrade(guard: Guard, t: string): Promise<Accept | Reject> {
  return guard.upgrade({
    request: new Request('http://localhost/ws', {
      headers: { origin: APP, authorization: `Bearer ${t}` },
    }),
    ip: '192.0.2.10',
  });
}

async function expectRefused(
  options: JwtOptions,
  t: string,
  expired = false,
  label = t,
): Promise<void> {
  const error = await createJwtVerifier(options)
    .verify(t)
    .then(
      (p) => p,
      (e: unknown) => e,
    );
  expect(error, label).toBeInstanceOf(CredentialError);
  expect((error as CredentialError).expired, label).toBe(expired);
}

async function expectGuardRefuses(options: JwtOptions, t: string, expired = false): Promise<void> {
  const d = await upgrade(guardFor(options), t);
  expect(d.ok).toBe(false);
  if (d.ok) return;
  expect(d.reason).toBe(expired ? 'expired' : 'credentials_invalid');
  expect(d.closeCode).toBe(expired ? 4002 : 4001);
}

async function expectAccepted(options: JwtOptions, t: string, label = t) {
  const p = await createJwtVerifier(options).verify(t);
  expect(p.sub, label).toBe('alice');
  return p;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same segment with its last character's lowest unused bit set: same bytes, other text. */
function unusedBitSet(segment: string): string {
  const rest = segment.length % 4;
  expect(rest === 2 || rest === 3, `segment of length ${segment.length} has unused bits`).toBe(
    true,
  );
  const i = ALPHABET.indexOf(segment.at(-1)!);
  return segment.slice(0, -1) + ALPHABET[i | 1];
}
const padded = (segment: string): string => segment + '='.repeat((4 - (segment.length % 4)) % 4);

/** A header whose segment has unused bits (its JSON is not a multiple of 3 bytes). */
function headerWithUnusedBits(alg: Alg): string {
  for (const kid of ['k', 'kk', 'kkk']) {
    const segment = b64(JSON.stringify({ alg, kid }));
    if (segment.length % 4 !== 0) return segment;
  }
  throw new Error('unreachable: one of three lengths is not a multiple of 3');
}
function payloadWithUnusedBits(): string {
  const exp = nowSec() + 300;
  for (const pad of ['', 'x', 'xx']) {
    const segment = b64(JSON.stringify({ sub: 'alice', exp, pad }));
    if (segment.length % 4 !== 0) return segment;
  }
  throw new Error('unreachable: one of three lengths is not a multiple of 3');
}

const ALGS: readonly Alg[] = ['HS256', 'RS256', 'ES256'];

describe('one spelling per token', () => {
  for (const alg of ALGS) {
    it(`${alg}: refuses the signature re-spelled (unused bits, padding, whitespace, base64 alphabet)`, async () => {
      const genuine = await token(alg);
      const [h, p, s] = genuine.split('.') as [string, string, string];
      const o = optionsFor(alg);
      await expectAccepted(o, genuine);
      const mid = s.length >> 1;
      const variants: Record<string, string> = {
        'unused bit': unusedBitSet(s),
        padding: padded(s),
        'one =': `${s}=`,
        TAB: `${s.slice(0, mid)}\t${s.slice(mid)}`,
        CR: `${s}\r`,
        LF: `${s.slice(0, mid)}\n${s.slice(mid)}`,
        'CR LF': `${s}\r\n`,
        space: ` ${s}`,
        'form feed': `${s}\f`,
        'standard alphabet': s.replaceAll('-', '+').replaceAll('_', '/').replace(/^./, '+'),
      };
      for (const [label, sig] of Object.entries(variants)) {
        expect(sig, label).not.toBe(s);
        await expectRefused(o, `${h}.${p}.${sig}`, false, `${alg} ${label}`);
      }
      // Through the guard too (header values may hold TAB, not CR or LF).
      for (const label of ['unused bit', 'padding', 'TAB']) {
        await expectGuardRefuses(o, `${h}.${p}.${variants[label]}`);
      }
    });

    it(`${alg}: refuses a header or payload the issuer signed in a non-canonical spelling`, async () => {
      const o = optionsFor(alg);
      const header = headerWithUnusedBits(alg);
      const payload = payloadWithUnusedBits();
      // Canonical: accepted (so each refusal below is about the spelling alone).
      await expectAccepted(o, await issued(alg, header, payload), `${alg} canonical`);
      const cases: Record<string, [string, string]> = {
        'header unused bit': [unusedBitSet(header), payload],
        'payload unused bit': [header, unusedBitSet(payload)],
        'header padded': [padded(header), payload],
        'payload padded': [header, padded(payload)],
        'payload with TAB': [header, `${payload.slice(0, 8)}\t${payload.slice(8)}`],
        'payload with LF': [header, `${payload}\n`],
      };
      for (const [label, [hh, pp]] of Object.entries(cases)) {
        await expectRefused(o, await issued(alg, hh, pp), false, `${alg} ${label}`);
      }
      await expectGuardRefuses(o, await issued(alg, unusedBitSet(header), payload));
    });
  }

  it('refuses empty segments and extra dots', async () => {
    const [h, p, s] = (await token('HS256')).split('.') as [string, string, string];
    for (const t of [
      `.${p}.${s}`,
      `${h}..${s}`,
      `${h}.${p}.`,
      `${h}.${p}.${s}.`,
      `${h}.${p}..${s}`,
    ])
      await expectRefused(optionsFor('HS256'), t);
  });
});

describe('aud present, no audience configured', () => {
  for (const alg of ALGS) {
    it(`${alg}: refuses a token for another service; allowAnyAudience opts in`, async () => {
      const o = optionsFor(alg);
      for (const aud of ['billing-service', ['billing-service', 'reports'], [] as string[]]) {
        const t = await token(alg, { aud });
        await expectRefused(o, t, false, `${alg} aud ${JSON.stringify(aud)}`);
        await expectAccepted(optionsFor(alg, { allowAnyAudience: true }), t);
      }
      await expectGuardRefuses(o, await token(alg, { aud: 'billing-service' }));
      // No aud at all: nothing to check against.
      await expectAccepted(o, await token(alg));
      // With an audience configured, a token naming it passes and one naming another does not.
      const withAud = optionsFor(alg, { audience: 'wsguard' });
      await expectAccepted(withAud, await token(alg, { aud: ['x', 'wsguard'] }));
      await expectRefused(withAud, await token(alg, { aud: 'billing-service' }));
    });
  }

  it('refuses allowAnyAudience together with an audience, or not a boolean, at start-up', () => {
    expect(() =>
      createJwtVerifier(optionsFor('HS256', { allowAnyAudience: true, audience: 'a' })),
    ).toThrow(/allowAnyAudience/);
    expect(() =>
      createJwtVerifier(optionsFor('HS256', { allowAnyAudience: 'yes' as unknown as boolean })),
    ).toThrow(/allowAnyAudience: true or false/);
  });
});

describe('iat', () => {
  for (const alg of ALGS) {
    it(`${alg}: refuses an iat ten years (or a minute) in the future, even with no age bound`, async () => {
      for (const o of [optionsFor(alg), optionsFor(alg, { maxTokenAgeSec: false })]) {
        await expectRefused(o, await token(alg, { iat: nowSec() + TEN_YEARS }), false);
        await expectRefused(o, await token(alg, { iat: nowSec() + 60 }), false);
        // Within the clock tolerance (5 s): a clock slightly ahead is not an attack.
        await expectAccepted(o, await token(alg, { iat: nowSec() + 2 }));
      }
      await expectGuardRefuses(optionsFor(alg), await token(alg, { iat: nowSec() + TEN_YEARS }));
    });

    it(`${alg}: refuses a token older than maxTokenAgeSec (default 24 h) as expired`, async () => {
      const old = await token(alg, { iat: nowSec() - 25 * 3600 });
      await expectRefused(optionsFor(alg), old, true);
      await expectGuardRefuses(optionsFor(alg), old, true);
      await expectAccepted(optionsFor(alg), await token(alg, { iat: nowSec() - 23 * 3600 }));
      await expectAccepted(optionsFor(alg, { maxTokenAgeSec: false }), old);
      await expectAccepted(optionsFor(alg, { maxTokenAgeSec: 2 * 86_400 }), old);
      const short = optionsFor(alg, { maxTokenAgeSec: 60 });
      await expectRefused(short, await token(alg, { iat: nowSec() - 120 }), true);
      await expectAccepted(short, await token(alg, { iat: nowSec() - 30 }));
    });

    it(`${alg}: accepts a token without iat by default; requireIat refuses it`, async () => {
      const t = await token(alg);
      await expectAccepted(optionsFor(alg), t);
      await expectRefused(optionsFor(alg, { requireIat: true }), t, false);
      await expectAccepted(
        optionsFor(alg, { requireIat: true }),
        await token(alg, { iat: nowSec() }),
      );
    });
  }

  it('ends a connection when its token reaches the maximum age, if before exp', async () => {
    const iat = nowSec() - 100;
    const exp = nowSec() + 7200;
    const o = optionsFor('HS256', { maxTokenAgeSec: 3600 });
    const p = await expectAccepted(o, await token('HS256', { iat }, exp));
    expect(p.expiresAt).toBe((iat + 3600) * 1000);
    const d = await upgrade(guardFor(o), await token('HS256', { iat }, exp));
    if (!d.ok) throw new Error(`expected acceptance, got ${d.reason}`);
    expect(d.connection.expiresAt).toBe((iat + 3600) * 1000);
    // exp first: exp decides; no iat, or no bound: exp decides.
    const soon = nowSec() + 600;
    expect((await expectAccepted(o, await token('HS256', { iat }, soon))).expiresAt).toBe(
      soon * 1000,
    );
    expect((await expectAccepted(o, await token('HS256', {}, exp))).expiresAt).toBe(exp * 1000);
    const unbounded = optionsFor('HS256', { maxTokenAgeSec: false });
    expect((await expectAccepted(unbounded, await token('HS256', { iat }, exp))).expiresAt).toBe(
      exp * 1000,
    );
  });

  it('refuses a malformed maxTokenAgeSec or requireIat at start-up, through the doctor too', () => {
    for (const maxTokenAgeSec of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60', true]) {
      expect(
        () =>
          createJwtVerifier(
            optionsFor('HS256', { maxTokenAgeSec: maxTokenAgeSec as unknown as number }),
          ),
        String(maxTokenAgeSec),
      ).toThrow(/maxTokenAgeSec/);
    }
    expect(() =>
      createJwtVerifier(optionsFor('HS256', { requireIat: 1 as unknown as boolean })),
    ).toThrow(/requireIat: true or false/);
    let problems: readonly string[] = [];
    try {
      guardFor(optionsFor('HS256', { maxTokenAgeSec: -5 }));
    } catch (error) {
      expect(error).toBeInstanceOf(GuardConfigError);
      problems = (error as GuardConfigError).problems;
    }
    expect(problems.some((m) => m.startsWith('jwt.maxTokenAgeSec'))).toBe(true);
    // The new keys are known option keys (no "unknown option" refusal).
    expect(() =>
      guardFor(
        optionsFor('HS256', { maxTokenAgeSec: 600, requireIat: true, allowAnyAudience: true }),
      ),
    ).not.toThrow();
  });
});

describe('what remains, recorded so a change on either side is noticed', () => {
  it('duplicate JSON keys: the last one wins on both paths (RFC 7515 §5.2 allows it)', async () => {
    // Only the key holder can sign such bytes, so this is not a spelling anyone else can make;
    // both paths parse with JSON.parse (jose's own parser), so they read the same claims.
    const header = '{"alg":"none","alg":"ALG"}';
    const payload = `{"sub":"mallory","exp":${nowSec() + 300},"sub":"alice"}`;
    for (const alg of ALGS) {
      const t = await issued(alg, b64(header.replace('ALG', alg)), b64(payload));
      expect((await createJwtVerifier(optionsFor(alg)).verify(t)).sub, alg).toBe('alice');
    }
  });

  it('ES256: the signature (r, n − s) still verifies; refusing high s would refuse half of genuine tokens', async () => {
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const genuine = await token('ES256');
    const [h, p, s] = genuine.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    const high = n - BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const other = Buffer.concat([
      sig.subarray(0, 32),
      Buffer.from(high.toString(16).padStart(64, '0'), 'hex'),
    ]).toString('base64url');
    expect(other).not.toBe(s);
    await expectAccepted(optionsFor('ES256'), `${h}.${p}.${other}`);
  });
});
