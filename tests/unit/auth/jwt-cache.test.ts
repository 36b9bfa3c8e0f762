/**
 * The verifier's cache of verified tokens (`src/auth/jwt-cache.ts`): a remembered token must be
 * accepted or refused exactly as an unremembered one would be, at every moment (the differential
 * property below, with the clock moving both ways), never for a text that differs, and the cache
 * must stay within its bounds.
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  createVerifiedTokens,
  MAX_CACHED_TOKEN_CHARS,
  type VerifiedTokens,
} from '../../../src/auth/jwt-cache.ts';
import { CredentialError, createJwtVerifier, type JwtOptions } from '../../../src/mod.ts';
import { heapAfterGc } from '../../fixtures/heap.ts';

const SECRET = 'jwt-cache-secret-0123456789abcdef-XYZ-0123';
const KEY = new TextEncoder().encode(SECRET);
const T0 = 1_800_000_000; // seconds

/** What a verification came to, comparable across verifiers. */
async function outcome(verify: () => Promise<{ sub: string; expiresAt?: number }>) {
  try {
    const p = await verify();
    return { ok: true, sub: p.sub, expiresAt: p.expiresAt };
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    return { ok: false, message: e.message, expired: e.expired };
  }
}

interface Claims {
  readonly sub: string;
  readonly iatOffset: number | undefined;
  readonly nbfOffset: number | undefined;
  readonly expOffset: number;
}

const sign = (c: Claims): Promise<string> => {
  const payload: Record<string, unknown> = { sub: c.sub, exp: T0 + c.expOffset };
  if (c.iatOffset !== undefined) payload['iat'] = T0 + c.iatOffset;
  if (c.nbfOffset !== undefined) payload['nbf'] = T0 + c.nbfOffset;
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(KEY);
};

const claims = fc.record({
  sub: fc.constantFrom('alice', 'bob', 'carol'),
  iatOffset: fc.option(fc.integer({ min: -120, max: 20 }), { nil: undefined }),
  nbfOffset: fc.option(fc.integer({ min: -20, max: 40 }), { nil: undefined }),
  expOffset: fc.integer({ min: -20, max: 120 }),
});

describe('cache of verified tokens', () => {
  it('answers as a verifier without it, whatever the clock does (generated tokens and steps)', async () => {
    vi.useFakeTimers({ now: T0 * 1000, toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(claims, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 5),
        fc.constantFrom<number | false>(30, 90, false),
        // Each step: which token, then how far the clock moves (ms; backwards too, as NTP does).
        fc.array(fc.tuple(fc.nat(3), fc.integer({ min: -15_000, max: 40_000 })), {
          minLength: 1,
          maxLength: 12,
        }),
        async (all, tolerance, maxAge, steps) => {
          vi.setSystemTime(T0 * 1000);
          const tokens = await Promise.all(all.map(sign));
          const options: JwtOptions = {
            algorithms: ['HS256'],
            secret: SECRET,
            clockToleranceSec: tolerance,
            maxTokenAgeSec: maxAge,
          };
          const cached = createJwtVerifier({ ...options, cache: 2 });
          const plain = createJwtVerifier({ ...options, cache: false });
          const seen = new Set<string>();
          let now = T0 * 1000;
          for (const [which, move] of steps) {
            const token = tokens[which % tokens.length]!;
            const a = await outcome(() => cached.verify(token));
            const b = await outcome(() => plain.verify(token));
            expect(a).toEqual(b);
            if (a.ok && seen.has(token)) hits++;
            if (a.ok) seen.add(token);
            now += move;
            vi.setSystemTime(now);
          }
        },
      ),
      { numRuns: 600 },
    );
    // The property is only worth something if many answers came from remembered tokens.
    expect(hits).toBeGreaterThan(200);
  });

  it('never accepts a text that differs from a remembered one', async () => {
    const v = createJwtVerifier({ algorithms: ['HS256'], secret: SECRET });
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(KEY);
    expect((await v.verify(token)).sub).toBe('alice');
    const [h, p, s] = token.split('.') as [string, string, string];
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const variants = [
      `${h}.${p}.${flip(s[0]!)}${s.slice(1)}`, // another signature
      `${h}.${p}.${s.slice(0, -1)}`, // a shorter one
      `${h}.${p}X.${s}`, // another payload, same signature
      ` ${token}`,
      `${token} `,
      `${token}.`,
    ];
    for (const variant of variants) {
      await expect(v.verify(variant), variant).rejects.toBeInstanceOf(CredentialError);
    }
    // And the remembered one is still good.
    expect((await v.verify(token)).sub).toBe('alice');
  });

  it('holds no more than its bound of tokens, however many come back', async () => {
    const v = createJwtVerifier({ algorithms: ['HS256'], secret: SECRET, cache: 1000 });
    const round = async (from: number, n: number) => {
      const tokens = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          new SignJWT({ sub: `user-${from + i}`, roles: ['user'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setExpirationTime('1h')
            .sign(KEY),
        ),
      );
      // Twice each: a token enters the cache on its second verification.
      for (const t of tokens) await v.verify(t);
      for (const t of tokens) await v.verify(t);
    };
    const start = heapAfterGc();
    await round(0, 5000);
    const afterFirst = heapAfterGc();
    await round(5000, 5000);
    const afterSecond = heapAfterGc();
    // 1,000 entries of ~200-character tokens and their claims: well under 2 KiB each.
    expect(afterFirst - start).toBeLessThan(1000 * 2048);
    // And the next 5,000 replace them rather than add to them.
    expect(afterSecond - afterFirst).toBeLessThan(256 * 1024);
  }, 30_000);

  it('refuses its option when it is not a count', () => {
    for (const cache of [-1, 1.5, Number.NaN, '10', true]) {
      expect(
        () =>
          createJwtVerifier({
            algorithms: ['HS256'],
            secret: SECRET,
            cache: cache as unknown as number,
          }),
        String(cache),
      ).toThrow(/jwt\.cache/);
    }
  });
});

describe('createVerifiedTokens', () => {
  const claimsOf = (sub: string) => ({ sub });
  const V1 = 1;

  /** A text is remembered from its second verification on. */
  const remember = (cache: VerifiedTokens, t: string, version: unknown = V1) => {
    cache.set(t, claimsOf(t), version);
    cache.set(t, claimsOf(t), version);
  };

  it('remembers a text only once it comes back', () => {
    const cache = createVerifiedTokens({ max: 10 })!;
    cache.set('token-0001', claimsOf('a'), V1);
    expect(cache.get('token-0001', V1)).toBeUndefined();
    cache.set('token-0001', claimsOf('a'), V1);
    expect(cache.get('token-0001', V1)).toEqual({ sub: 'a' });
  });

  it('keeps at most max entries, dropping the oldest first', () => {
    const cache = createVerifiedTokens({ max: 3 })!;
    for (const t of ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee']) remember(cache, t);
    expect(cache.size).toBe(3);
    expect(cache.get('aaaa', V1)).toBeUndefined();
    expect(cache.get('bbbb', V1)).toBeUndefined();
    expect(cache.get('eeee', V1)).toEqual({ sub: 'eeee' });
    // A flood of distinct texts keeps the bound (and evicts in order through the holes it left).
    const text = (i: number) => `token-${i}`;
    for (let i = 0; i < 20_000; i++) remember(cache, text(i));
    expect(cache.size).toBe(3);
    expect(cache.get(text(19_999), V1)).toEqual({ sub: text(19_999) });
    expect(cache.get(text(19_996), V1)).toBeUndefined();
  });

  it('answers only under the keys that verified it, and never keeps an overlong text', () => {
    const cache = createVerifiedTokens({ max: 10 })!;
    remember(cache, 'xxxx', V1);
    expect(cache.get('xxxx', V1)).toEqual({ sub: 'xxxx' });
    // Keys reloaded: the entry is gone, even if the old version comes back.
    expect(cache.get('xxxx', 2)).toBeUndefined();
    expect(cache.get('xxxx', V1)).toBeUndefined();
    expect(cache.size).toBe(0);
    // Keys that cannot vouch (a stale remote set): nothing is kept, nothing answers.
    cache.set('zzzz', claimsOf('zzzz'), undefined);
    cache.set('zzzz', claimsOf('zzzz'), undefined);
    expect(cache.size).toBe(0);
    remember(cache, 'wwww', V1);
    expect(cache.get('wwww', undefined)).toBeUndefined();
    const long = 'y'.repeat(MAX_CACHED_TOKEN_CHARS + 1);
    remember(cache, long);
    expect(cache.get(long, V1)).toBeUndefined();
  });

  it('is off at 0', () => {
    expect(createVerifiedTokens({ max: 0 })).toBeUndefined();
  });
});
