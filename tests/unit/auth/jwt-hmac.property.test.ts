/**
 * Differential property: the synchronous HS* path (`src/auth/jwt-hmac.ts`) never disagrees with
 * jose's `jwtVerify`. On generated tokens (right and wrong keys, algorithm swaps, tampered,
 * non-canonical and padded signatures, `crit`/`b64`/`typ` headers, expired, not-yet-valid,
 * wrong issuer/audience, malformed JSON and segments), for generated verifier options:
 *
 * - where the fast path returns a payload, `jwtVerify` accepts the same token with the same payload;
 * - where it throws, `jwtVerify` throws the same jose error (class, code, claim);
 * - where it defers (`undefined`), nothing is claimed: `jwtVerify` decides alone.
 *
 * And it has teeth: a valid token signed by the right key is taken by the fast path (not deferred),
 * so a fast path that silently stopped working would fail here, not only in a benchmark.
 *
 * Then the same for the verifier's two complete paths (`createTokenPaths`: canonical spelling,
 * signature, jose's claims, wsguard's claim policy), on tokens re-spelled in every segment
 * (padding, unused bits, whitespace, the standard base64 alphabet, empty segments, extra dots),
 * before signing (the issuer signed the odd text) and after (anyone re-spelled a genuine token):
 * the two paths agree, every non-canonical token is refused by both, and every accepted token
 * obeys the `aud` and `iat` rules, checked here independently of the code under test.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { type JWTPayload, jwtVerify } from 'jose';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createTokenPaths } from '../../../src/auth/jwt.ts';
import { createHmacFastPath } from '../../../src/auth/jwt-hmac.ts';
import type { JwtOptions } from '../../../src/auth/jwt-options.ts';
import { createJwtVerifier } from '../../../src/mod.ts';

const SECRET = new TextEncoder().encode('differential-secret-0123456789-abcdefghij');
const OTHER = new TextEncoder().encode('another-secret-0123456789-abcdefghijklmnop');
const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;
type Hs = keyof typeof HASH;
const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (value: string): string => Buffer.from(value).toString('base64url');

interface Recipe {
  header: Record<string, unknown> | string;
  payload: Record<string, unknown> | string;
  signAlg: Hs;
  key: 'right' | 'wrong';
  mangle:
    | 'none'
    | 'flip'
    | 'last-bits'
    | 'pad'
    | 'truncate'
    | 'extra-segment'
    | 'space'
    | 'empty-sig';
}

const claimValue = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
);
/** Times far from every boundary (≥ 60 s), so the clock moving between the two calls cannot matter. */
const time = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 60, max: 10_000 }).map((d) => now() + d),
  fc.integer({ min: 60, max: 10_000 }).map((d) => now() - d),
  fc.constant('soon'),
);

const header: fc.Arbitrary<Record<string, unknown> | string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        alg: fc.constantFrom('HS256', 'HS384', 'HS512', 'none', 'RS256', 'hs256', 7),
        typ: fc.constantFrom(undefined, 'JWT', 'at+jwt', 'application/at+jwt', 3),
        crit: fc.constantFrom(undefined, undefined, undefined, ['b64'], ['exp'], [], 'b64'),
        b64: fc.constantFrom(undefined, undefined, undefined, true, false),
        kid: fc.constantFrom(undefined, 'k1'),
      },
      { requiredKeys: ['alg'] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('not json', '[]', 'null', '{"alg":"HS256"', '"HS256"') },
);

const payload: fc.Arbitrary<Record<string, unknown> | string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      sub: claimValue,
      exp: time,
      nbf: time,
      iat: time,
      iss: fc.constantFrom(undefined, 'https://issuer.example', 'https://evil.example', 5),
      aud: fc.constantFrom(undefined, 'app', ['app', 'other'], ['other'], 'evil'),
      roles: claimValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('not json', '[]', '42', '{"exp":', '{"__proto__":{"exp":1}}'),
  },
);

const recipe: fc.Arbitrary<Recipe> = fc
  .record({
    header,
    payload,
    signAlg: fc.constantFrom<Hs>('HS256', 'HS384', 'HS512'),
    // Mostly the header names the algorithm actually used, so many tokens reach the claim checks.
    honestAlg: fc.constantFrom(true, true, true, false),
    key: fc.constantFrom<Recipe['key']>('right', 'right', 'right', 'wrong'),
    mangle: fc.constantFrom<Recipe['mangle']>(
      'none',
      'none',
      'none',
      'none',
      'none',
      'none',
      'none',
      'none',
      'flip',
      'last-bits',
      'pad',
      'truncate',
      'extra-segment',
      'space',
      'empty-sig',
    ),
  })
  .map(({ honestAlg, ...r }) =>
    honestAlg && typeof r.header === 'object'
      ? { ...r, header: { ...r.header, alg: r.signAlg } }
      : r,
  );

/** Build the compact token a recipe describes, signing whatever bytes it ends up with. */
function build(r: Recipe): string {
  const h = typeof r.header === 'string' ? r.header : JSON.stringify(r.header);
  const p = typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload);
  const input = `${b64(h)}.${b64(p)}`;
  const sig = createHmac(HASH[r.signAlg], r.key === 'right' ? SECRET : OTHER)
    .update(input)
    .digest('base64url');
  switch (r.mangle) {
    case 'none':
      return `${input}.${sig}`;
    case 'flip':
      return `${input}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    case 'last-bits': {
      // Same decoded bytes for a lenient decoder, different text: a non-canonical encoding.
      const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const i = last.indexOf(sig.at(-1)!);
      return `${input}.${sig.slice(0, -1)}${last[i ^ 1]}`;
    }
    case 'pad':
      return `${input}.${sig}=`;
    case 'truncate':
      return `${input}.${sig.slice(0, -2)}`;
    case 'extra-segment':
      return `${input}.${sig}.x`;
    case 'space':
      return ` ${input}.${sig}`;
    case 'empty-sig':
      return `${input}.`;
  }
}

interface Options {
  algorithms: Hs[];
  issuer?: string | string[];
  audience?: string | string[];
  typ?: string;
  clockTolerance?: number;
}
const options: fc.Arbitrary<Options> = fc.record(
  {
    algorithms: fc.subarray(['HS256', 'HS384', 'HS512'] as Hs[], { minLength: 1 }),
    issuer: fc.constantFrom<string | string[]>('https://issuer.example', [
      'https://other.example',
      'https://issuer.example',
    ]),
    audience: fc.constantFrom<string | string[]>('app', ['x', 'app']),
    typ: fc.constantFrom('at+jwt', 'JWT', 'application/JWT'),
    clockTolerance: fc.constantFrom(0, 5),
  },
  { requiredKeys: ['algorithms'] },
);

const verifyOptions = (o: Options) => ({
  clockTolerance: 5,
  ...o,
  requiredClaims: ['exp'],
});

const describeError = (e: unknown) => ({
  name: (e as Error).constructor.name,
  message: (e as Error).message,
  code: (e as { code?: unknown }).code,
  claim: (e as { claim?: unknown }).claim,
  reason: (e as { reason?: unknown }).reason,
});
type Outcome = { ok: unknown } | { error: ReturnType<typeof describeError> } | 'deferred';

async function viaJose(token: string, o: Options): Promise<Outcome> {
  try {
    return { ok: (await jwtVerify(token, SECRET, verifyOptions(o))).payload };
  } catch (e) {
    return { error: describeError(e) };
  }
}
/** One fast path per option set, reused across tokens: its header cache sees many headers. */
const fastPaths = new Map<string, NonNullable<ReturnType<typeof createHmacFastPath>>>();
function viaFast(token: string, o: Options): Outcome {
  const id = JSON.stringify(o);
  let fast = fastPaths.get(id);
  if (!fast) {
    fast = createHmacFastPath(SECRET, o.algorithms, verifyOptions(o));
    if (!fast)
      throw new Error('no synchronous HMAC on this runtime: the fast path cannot be tested');
    fastPaths.set(id, fast);
  }
  try {
    const payload = fast(token);
    return payload === undefined ? 'deferred' : { ok: payload };
  } catch (e) {
    return { error: describeError(e) };
  }
}

describe('synchronous HS* path against jwtVerify', () => {
  it('never accepts or refuses differently (generated tokens and options)', async () => {
    // One clock for both paths: jose reads it after an await, and a token at a second's boundary
    // would otherwise be live for one and expired for the other (a rare, false disagreement).
    vi.useFakeTimers({ now: Date.now(), toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(recipe, options, async (r, o) => {
        const token = build(r);
        const fast = viaFast(token, o);
        if (fast === 'deferred') return;
        taken++;
        expect(fast).toEqual(await viaJose(token, o));
      }),
      { numRuns: 4000 },
    );
    // Most generated tokens are odd; still, hundreds must have taken the fast path.
    expect(taken).toBeGreaterThan(200);
  });

  it('takes every well-formed token signed with the right key (accepting or refusing its claims)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Hs>('HS256', 'HS384', 'HS512'),
        fc.record({ sub: fc.string({ minLength: 1, maxLength: 10 }), exp: time }),
        fc.constantFrom(undefined, 'JWT', 'at+jwt'),
        async (alg, claims, typ) => {
          const token = build({
            header: typ === undefined ? { alg } : { alg, typ },
            payload: claims,
            signAlg: alg,
            key: 'right',
            mangle: 'none',
          });
          const o: Options = { algorithms: [alg] };
          const fast = viaFast(token, o);
          expect(fast).not.toBe('deferred');
          expect(fast).toEqual(await viaJose(token, o));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees at the clock boundaries and on odd claim types (frozen clock)', async () => {
    vi.useFakeTimers({ now: 1_800_000_000_500, toFake: ['Date'] });
    try {
      const at = 1_800_000_000;
      const near = fc.oneof(
        fc.integer({ min: -7, max: 7 }).map((d) => at + d),
        fc.constantFrom<unknown>(undefined, '1800000000', null, at + 0.5, at - 5.5),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.record({ sub: fc.constant('a'), exp: near, nbf: near, iat: near }),
          fc.constantFrom(0, 5),
          async (claims, clockTolerance) => {
            const token = build({
              header: { alg: 'HS256' },
              payload: claims,
              signAlg: 'HS256',
              key: 'right',
              mangle: 'none',
            });
            const o: Options = { algorithms: ['HS256'], clockTolerance };
            const fast = viaFast(token, o);
            expect(fast).not.toBe('deferred');
            expect(fast).toEqual(await viaJose(token, o));
          },
        ),
        { numRuns: 2000 },
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('defers forged, swapped and non-canonical signatures to jwtVerify', async () => {
    const o: Options = { algorithms: ['HS256'] };
    const base = { header: { alg: 'HS256' }, payload: { sub: 'a', exp: now() + 600 } };
    for (const [signAlg, key, mangle] of [
      ['HS256', 'wrong', 'none'],
      ['HS512', 'right', 'none'], // header says HS256, signed with HS512
      ['HS256', 'right', 'flip'],
      ['HS256', 'right', 'truncate'],
      ['HS256', 'right', 'empty-sig'],
    ] as const) {
      const token = build({ ...base, signAlg, key, mangle });
      expect(viaFast(token, o), `${signAlg}/${key}/${mangle}`).toBe('deferred');
      const jose = await viaJose(token, o);
      expect(jose, `${signAlg}/${key}/${mangle}`).toHaveProperty('error');
    }
    // The right MAC with its last character's unused bits changed: the fast path compares text and
    // defers; jose decodes leniently to the same bytes and accepts, as it always has. Recorded so a
    // change on either side is noticed.
    const lenient = build({ ...base, signAlg: 'HS256', key: 'right', mangle: 'last-bits' });
    expect(viaFast(lenient, o)).toBe('deferred');
    expect(await viaJose(lenient, o)).toMatchObject({ ok: { sub: 'a' } });
    // The verifier's own jose path refuses that spelling: one token, one text.
    const strict: StrictOptions = { algorithms: ['HS256'] };
    expect(viaStrictFast(lenient, strict)).toBe('deferred');
    expect(await viaStrictJose(lenient, strict)).toMatchObject({
      error: { name: 'JWSInvalid', code: 'ERR_JWS_INVALID' },
    });
  });

  it('maps fast-path claim failures like jose ones through createJwtVerifier', async () => {
    const verifier = createJwtVerifier({
      algorithms: ['HS256'],
      secret: SECRET,
      issuer: 'https://issuer.example',
    });
    const sign = (claims: Record<string, unknown>) =>
      build({
        header: { alg: 'HS256' },
        payload: claims,
        signAlg: 'HS256',
        key: 'right',
        mangle: 'none',
      });
    await expect(
      verifier.verify(sign({ sub: 'a', iss: 'https://issuer.example', exp: now() - 600 })),
    ).rejects.toMatchObject({ name: 'CredentialError', expired: true });
    await expect(
      verifier.verify(sign({ sub: 'a', iss: 'https://evil.example', exp: now() + 600 })),
    ).rejects.toMatchObject({ name: 'CredentialError', expired: false });
    await expect(
      verifier.verify(sign({ sub: 'a', iss: 'https://issuer.example' })),
    ).rejects.toMatchObject({
      name: 'CredentialError',
    });
    await expect(
      verifier.verify(
        sign({ sub: 'alice', roles: ['admin'], iss: 'https://issuer.example', exp: now() + 600 }),
      ),
    ).resolves.toMatchObject({ sub: 'alice', roles: ['admin'] });
  });
});

// ---------------------------------------------------------------------------------------------
// The verifier's two complete paths, strict: createTokenPaths(...).fast against .jose.

type Respell =
  | 'none'
  | 'unused-bit'
  | 'pad'
  | 'one-pad'
  | 'space'
  | 'tab'
  | 'cr'
  | 'lf'
  | 'crlf'
  | 'ff'
  | 'plus'
  | 'slash'
  | 'std-alphabet'
  | 'empty'
  | 'dot-before'
  | 'dot-after'
  | 'overlong';

interface StrictRecipe {
  header: Record<string, unknown> | string;
  payload: Record<string, unknown> | string;
  signAlg: Hs;
  key: 'right' | 'wrong';
  respell: Respell;
  /** Which segment is re-spelled: header, payload or signature. */
  segment: 0 | 1 | 2;
  /** Re-spelled before signing (the issuer signed that text) or after (a genuine token altered). */
  when: 'before' | 'after';
  /** Where in the segment an inserted or replaced character goes, as a fraction of its length. */
  at: number;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** One segment spelled otherwise; most results are not canonical, some are (the oracle decides). */
function respell(segment: string, how: Respell, at: number): string {
  const i = Math.min(segment.length, Math.floor(at * (segment.length + 1)));
  const insert = (c: string) => segment.slice(0, i) + c + segment.slice(i);
  const replace = (c: string) =>
    segment.length === 0
      ? c
      : segment.slice(0, Math.min(i, segment.length - 1)) +
        c +
        segment.slice(Math.min(i, segment.length - 1) + 1);
  const rest = segment.length % 4;
  switch (how) {
    case 'none':
      return segment;
    case 'unused-bit': {
      // The lowest unused bit of the last character: same bytes to a lenient decoder.
      if (rest !== 2 && rest !== 3) return `${segment}A`; // no unused bits: an impossible length
      const v = ALPHABET.indexOf(segment.at(-1)!);
      return (
        segment.slice(0, -1) +
        ALPHABET[v | (rest === 2 ? 1 << Math.floor(at * 4) : 1 << Math.floor(at * 2))]
      );
    }
    case 'pad':
      return segment + '='.repeat(rest === 0 ? 1 : 4 - rest);
    case 'one-pad':
      return `${segment}=`;
    case 'space':
      return insert(' ');
    case 'tab':
      return insert('\t');
    case 'cr':
      return insert('\r');
    case 'lf':
      return insert('\n');
    case 'crlf':
      return insert('\r\n');
    case 'ff':
      return insert('\f');
    case 'plus':
      return replace('+');
    case 'slash':
      return replace('/');
    case 'std-alphabet':
      return segment.replaceAll('-', '+').replaceAll('_', '/');
    case 'empty':
      return '';
    case 'dot-before':
      return `.${segment}`;
    case 'dot-after':
      return `${segment}.`;
    case 'overlong': {
      let out = `${segment}A`;
      while (out.length % 4 !== 1) out += 'A';
      return out;
    }
  }
}

/** Independent of src/: canonical iff three non-empty segments, each its own re-encoding. */
function canonical(token: string): boolean {
  const parts = token.split('.');
  return (
    parts.length === 3 &&
    parts.every(
      (p) =>
        p.length > 0 &&
        /^[A-Za-z0-9_-]+$/.test(p) &&
        Buffer.from(p, 'base64url').toString('base64url') === p,
    )
  );
}

function buildStrict(r: StrictRecipe): string {
  const h = b64(typeof r.header === 'string' ? r.header : JSON.stringify(r.header));
  const p = b64(typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload));
  const mac = (input: string) =>
    createHmac(HASH[r.signAlg], r.key === 'right' ? SECRET : OTHER)
      .update(input)
      .digest('base64url');
  const segments = [h, p];
  if (r.when === 'before' && r.segment < 2) {
    segments[r.segment] = respell(segments[r.segment]!, r.respell, r.at);
    const input = `${segments[0]}.${segments[1]}`;
    return `${input}.${mac(input)}`;
  }
  const all = [h, p, mac(`${h}.${p}`)];
  all[r.segment] = respell(all[r.segment]!, r.respell, r.at);
  return all.join('.');
}

/** `iat` values, each ≥ 55 s from every boundary (tolerance ≤ 5 s, ages 1 h and 24 h). */
const iatTime = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(-60, -1800, -7200, -90_000, -315_360_000, 60, 315_360_000).map((d) => now() + d),
  fc.constant('soon'),
);

const strictPayload: fc.Arbitrary<Record<string, unknown> | string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      sub: claimValue,
      exp: time,
      nbf: fc.constantFrom(undefined, undefined, now() - 600, now() + 600),
      iat: iatTime,
      iss: fc.constantFrom(undefined, 'https://issuer.example', 'https://evil.example'),
      aud: fc.constantFrom(undefined, undefined, 'app', ['app', 'other'], ['other'], [], 'evil'),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom('not json', '[]', '{"exp":', '{"exp":1e999}') },
);

const respelling = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Respell>('none') },
  {
    weight: 4,
    arbitrary: fc.constantFrom<Respell>(
      'unused-bit',
      'pad',
      'one-pad',
      'space',
      'tab',
      'cr',
      'lf',
      'crlf',
      'ff',
      'plus',
      'slash',
      'std-alphabet',
      'empty',
      'dot-before',
      'dot-after',
      'overlong',
    ),
  },
);
const placement = {
  respell: respelling,
  segment: fc.constantFrom<StrictRecipe['segment']>(0, 1, 2),
  when: fc.constantFrom<StrictRecipe['when']>('before', 'after'),
  at: fc.double({ min: 0, max: 0.999, noNaN: true }),
};

/** Anything: odd headers and payloads, swapped algorithms, wrong keys. */
const wildRecipe: fc.Arbitrary<StrictRecipe> = fc
  .record({
    header,
    payload: strictPayload,
    signAlg: fc.constantFrom<Hs>('HS256', 'HS384', 'HS512'),
    honestAlg: fc.constantFrom(true, true, true, false),
    key: fc.constantFrom<StrictRecipe['key']>('right', 'right', 'right', 'wrong'),
    ...placement,
  })
  .map(({ honestAlg, ...r }) =>
    honestAlg && typeof r.header === 'object'
      ? { ...r, header: { ...r.header, alg: r.signAlg } }
      : r,
  );

/**
 * A real issuer's tokens (right key and algorithm, valid `exp`, the expected `iss`), varied in
 * `aud`, `iat` and `typ`: the ones the `aud` and `iat` rules decide, so many are accepted.
 */
const issuerRecipe: fc.Arbitrary<StrictRecipe> = fc
  .record({
    signAlg: fc.constantFrom<Hs>('HS256', 'HS384', 'HS512'),
    typ: fc.constantFrom(undefined, 'JWT'),
    // Headers of every length modulo 3, so their segments end with and without unused bits.
    kid: fc.constantFrom(undefined, 'k', 'kk'),
    aud: fc.constantFrom(undefined, undefined, 'app', ['x', 'app'], 'other', []),
    // Mostly a recent iat, as issuers stamp it; sometimes any of the others.
    iat: fc.oneof(
      { weight: 1, arbitrary: iatTime },
      { weight: 2, arbitrary: fc.constantFrom(-60, -1800).map((d) => now() + d) },
    ),
    ...placement,
    // Half the time the token as issued, so the claim rules decide it.
    respell: fc.oneof(respelling, fc.constant<Respell>('none')),
  })
  .map(({ signAlg, typ, kid, aud, iat, ...r }) => ({
    ...r,
    signAlg,
    key: 'right' as const,
    header: {
      alg: signAlg,
      ...(typ === undefined ? {} : { typ }),
      ...(kid === undefined ? {} : { kid }),
    },
    payload: { sub: 'a', exp: now() + 600, iss: 'https://issuer.example', aud, iat },
  }));

const strictRecipe: fc.Arbitrary<StrictRecipe> = fc.oneof(wildRecipe, issuerRecipe);

interface StrictOptions {
  algorithms: Hs[];
  issuer?: string | string[];
  audience?: string | string[];
  allowAnyAudience?: boolean;
  typ?: string;
  clockToleranceSec?: number;
  maxTokenAgeSec?: number | false;
  requireIat?: boolean;
}
const strictOptions: fc.Arbitrary<StrictOptions> = fc
  .record(
    {
      algorithms: fc.subarray(['HS256', 'HS384', 'HS512'] as Hs[], { minLength: 1 }),
      issuer: fc.constantFrom<string | string[]>('https://issuer.example', [
        'https://other.example',
        'https://issuer.example',
      ]),
      audience: fc.constantFrom<string | string[]>('app', ['x', 'app']),
      allowAnyAudience: fc.boolean(),
      typ: fc.constantFrom('JWT', 'application/JWT'),
      clockToleranceSec: fc.constantFrom(0, 5),
      maxTokenAgeSec: fc.constantFrom<number | false>(false, 3600, 86_400),
      requireIat: fc.boolean(),
    },
    { requiredKeys: ['algorithms'] },
  )
  // The doctor refuses allowAnyAudience next to an audience: not a verifier to compare.
  .map((o) => {
    if (o.audience === undefined) return o;
    const { allowAnyAudience: _, ...rest } = o;
    return rest;
  });

const strictPaths = new Map<string, ReturnType<typeof createTokenPaths>>();
function pathsFor(o: StrictOptions): ReturnType<typeof createTokenPaths> {
  const id = JSON.stringify(o);
  let paths = strictPaths.get(id);
  if (!paths) {
    paths = createTokenPaths({ ...o, secret: SECRET } as JwtOptions);
    if (!paths.fast)
      throw new Error('no synchronous HMAC on this runtime: the fast path cannot be tested');
    strictPaths.set(id, paths);
  }
  return paths;
}
function viaStrictFast(token: string, o: StrictOptions): Outcome {
  try {
    const payload = pathsFor(o).fast!(token);
    return payload === undefined ? 'deferred' : { ok: payload };
  } catch (e) {
    return { error: describeError(e) };
  }
}
async function viaStrictJose(token: string, o: StrictOptions): Promise<Outcome> {
  try {
    return { ok: await pathsFor(o).jose(token) };
  } catch (e) {
    return { error: describeError(e) };
  }
}

/** The rules an accepted token must obey, written out here rather than taken from src/. */
function expectObeysPolicy(claims: Record<string, unknown>, o: StrictOptions, at: number): void {
  const tolerance = o.clockToleranceSec ?? 5;
  if (o.audience === undefined && o.allowAnyAudience !== true)
    expect(Object.hasOwn(claims, 'aud'), 'aud without a configured audience').toBe(false);
  if (o.requireIat === true) expect(typeof claims.iat).toBe('number');
  if (typeof claims.iat === 'number') {
    expect(claims.iat, 'iat in the future').toBeLessThanOrEqual(at + tolerance);
    const maxAge = o.maxTokenAgeSec === undefined ? 86_400 : o.maxTokenAgeSec;
    if (maxAge !== false)
      expect(at - claims.iat - tolerance, 'token too old').toBeLessThanOrEqual(maxAge);
  }
}

describe('the verifier’s fast and jose paths, both strict', () => {
  it('agree, refuse every non-canonical spelling, and accept only what the policy allows', async () => {
    let taken = 0;
    let respelledRefused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(strictRecipe, strictOptions, async (r, o) => {
        const token = buildStrict(r);
        const fast = viaStrictFast(token, o);
        const jose = await viaStrictJose(token, o);
        if (fast !== 'deferred') {
          taken++;
          expect(fast).toEqual(jose);
        }
        if (!canonical(token)) {
          expect(
            fast === 'deferred' || 'error' in fast,
            'fast path took a non-canonical token',
          ).toBe(true);
          expect(jose, 'jose path accepted a non-canonical token').toHaveProperty('error');
          respelledRefused++;
        }
        if (typeof jose === 'object' && 'ok' in jose) {
          accepted++;
          expectObeysPolicy(jose.ok as Record<string, unknown>, o, now());
          // Strict only narrows: jose alone, with the same options, accepts it too.
          const {
            allowAnyAudience: _a,
            maxTokenAgeSec: _m,
            requireIat,
            clockToleranceSec,
            ...rest
          } = o;
          const lenient = await viaJose(token, {
            ...rest,
            clockTolerance: clockToleranceSec ?? 5,
          });
          expect(lenient).toEqual(jose);
          if (requireIat) expect(typeof (jose.ok as JWTPayload).iat).toBe('number');
        }
      }),
      { numRuns: 3000 },
    );
    // Teeth: the fast path still takes tokens, re-spellings are generated and refused, and some
    // tokens pass every rule.
    expect(taken).toBeGreaterThan(400);
    expect(respelledRefused).toBeGreaterThan(600);
    expect(accepted).toBeGreaterThan(60);
  });

  it('refuse every re-spelling of an accepted token, in every segment, before and after signing', async () => {
    const o: StrictOptions = { algorithms: ['HS256', 'HS384', 'HS512'] };
    let respelled = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Hs>('HS256', 'HS384', 'HS512'),
        // Header and payload lengths of every residue modulo 3: segments with 0, 2 and 4 unused bits.
        fc.constantFrom(undefined, 'k', 'kk'),
        fc.constantFrom('', 'x', 'xx'),
        respelling.filter((r) => r !== 'none'),
        placement.segment,
        placement.when,
        placement.at,
        async (signAlg, kid, pad, how, segment, when, at) => {
          const recipe: StrictRecipe = {
            header: kid === undefined ? { alg: signAlg } : { alg: signAlg, kid },
            payload: { sub: 'a', exp: now() + 600, pad },
            signAlg,
            key: 'right',
            respell: 'none',
            segment,
            when,
            at,
          };
          const genuine = buildStrict(recipe);
          // The token as issued passes both paths (so a refusal below is the spelling's alone).
          expect(viaStrictFast(genuine, o)).toMatchObject({ ok: { sub: 'a' } });
          expect(await viaStrictJose(genuine, o)).toMatchObject({ ok: { sub: 'a' } });
          const token = buildStrict({ ...recipe, respell: how });
          if (canonical(token)) return; // e.g. the standard alphabet where there was no - or _
          respelled++;
          const fast = viaStrictFast(token, o);
          expect(fast === 'deferred' || 'error' in fast, `fast took ${JSON.stringify(token)}`).toBe(
            true,
          );
          expect(await viaStrictJose(token, o), JSON.stringify(token)).toHaveProperty('error');
        },
      ),
      { numRuns: 1500 },
    );
    expect(respelled).toBeGreaterThan(1000);
  });

  it('agree at the iat boundaries, exactly where the policy puts them (frozen clock)', async () => {
    vi.useFakeTimers({ now: 1_800_000_000_500, toFake: ['Date'] });
    try {
      const at = 1_800_000_000;
      const iat = fc.oneof(
        fc.integer({ min: -7, max: 7 }).map((d) => at + d),
        fc.integer({ min: -7, max: 7 }).map((d) => at - 3600 + d),
        fc.constantFrom<unknown>(undefined, at + 0.5, at - 3600 - 5.5),
      );
      await fc.assert(
        fc.asyncProperty(
          iat,
          fc.constantFrom(0, 5),
          fc.constantFrom<number | false>(3600, false),
          async (iatValue, clockToleranceSec, maxTokenAgeSec) => {
            const token = buildStrict({
              header: { alg: 'HS256' },
              payload: { sub: 'a', exp: at + 600, iat: iatValue },
              signAlg: 'HS256',
              key: 'right',
              respell: 'none',
              segment: 0,
              when: 'after',
              at: 0,
            });
            const o: StrictOptions = { algorithms: ['HS256'], clockToleranceSec, maxTokenAgeSec };
            const fast = viaStrictFast(token, o);
            expect(fast).not.toBe('deferred');
            expect(fast).toEqual(await viaStrictJose(token, o));
            const t = clockToleranceSec;
            const ok =
              typeof iatValue !== 'number' ||
              (iatValue <= at + t &&
                (maxTokenAgeSec === false || at - iatValue - t <= maxTokenAgeSec));
            expect(typeof fast === 'object' && 'ok' in fast, `iat ${iatValue}`).toBe(ok);
            if (!ok && typeof fast === 'object' && 'error' in fast) {
              // Too old: expired (4002, get a new token); from the future: invalid (4001).
              expect(fast.error.name).toBe(
                (iatValue as number) > at ? 'JWTClaimValidationFailed' : 'JWTExpired',
              );
              expect(fast.error.claim).toBe('iat');
            }
          },
        ),
        { numRuns: 600 },
      );
    } finally {
      vi.useRealTimers();
    }
  });
});
