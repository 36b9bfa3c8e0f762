/**
 * Differential property: the synchronous HS* path (`src/jwt-hmac.ts`) never disagrees with
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
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { jwtVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { createHmacFastPath } from '../../src/jwt-hmac.ts';
import { createJwtVerifier } from '../../src/mod.ts';

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
