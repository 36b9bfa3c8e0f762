/**
 * The synchronous HS* path computes its MAC from pads made once per key (`jwt-hmac.ts`). These
 * cases reach what generated tokens with a short secret do not: a key longer than the hash's block
 * (hashed first, RFC 2104 §2), a key of exactly one block, and a signing input longer than the
 * path's first scratch buffer. Each token must be taken by the fast path (not deferred) with the
 * payload jose verifies, and refused (deferred to jose, which refuses it) with one signature
 * character changed.
 */
import { createHmac } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { createTokenPaths } from '../../../src/auth/jwt.ts';
import type { JwtOptions } from '../../../src/mod.ts';

const ALGS = ['HS256', 'HS384', 'HS512'] as const;
/** Block sizes: 64 for SHA-256, 128 for SHA-384 and SHA-512. */
const SECRET_LENGTHS = [32, 64, 65, 128, 129, 300];

const secretOf = (length: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff);

async function token(alg: string, key: Uint8Array, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg })
    .setSubject('alice')
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(key);
}

/** The same token with its last signature character changed to another canonical one. */
const tampered = (t: string): string => {
  const last = t.at(-1)!;
  // HS256/384/512 signatures are 43, 64 and 86 characters: the last one carries 4, 0 and 4
  // unused bits, so swap within the characters that keep those bits zero.
  return `${t.slice(0, -1)}${last === 'A' ? 'Q' : 'A'}`;
};

describe('the HS* fast path over precomputed pads', () => {
  for (const alg of ALGS) {
    for (const length of SECRET_LENGTHS) {
      it(`${alg}, a ${length}-byte secret, short and long signing inputs`, async () => {
        const secret = secretOf(length);
        const paths = createTokenPaths({ algorithms: [alg], secret } as JwtOptions);
        expect(paths.fast).toBeDefined();
        for (const pad of ['', 'x'.repeat(700), 'y'.repeat(3000)]) {
          const t = await token(alg, secret, { pad });
          const fast = paths.fast!(t);
          expect(fast).toEqual(await paths.jose(t));
          expect(fast?.pad).toBe(pad);
          // The MAC is the one node:crypto computes for the whole signing input.
          const hash = `sha${alg.slice(2)}`;
          const input = t.slice(0, t.lastIndexOf('.'));
          expect(t.slice(t.lastIndexOf('.') + 1)).toBe(
            createHmac(hash, secret).update(input).digest('base64url'),
          );
          const forged = tampered(t);
          expect(paths.fast!(forged)).toBeUndefined();
          await expect(paths.jose(forged)).rejects.toThrow();
        }
      });
    }
  }

  it('verifies without a createHmac per token (the pads are made once, when the path is built)', async () => {
    const nodeCrypto = process.getBuiltinModule('node:crypto');
    const secret = secretOf(48);
    const paths = createTokenPaths({ algorithms: ['HS256', 'HS512'], secret } as JwtOptions);
    const tokens = await Promise.all([token('HS256', secret, {}), token('HS512', secret, {})]);
    const spy = vi.spyOn(nodeCrypto, 'createHmac');
    try {
      for (const t of tokens) expect(paths.fast!(t)?.sub).toBe('alice');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('a token signed under another secret of the same length is not taken', async () => {
    const paths = createTokenPaths({ algorithms: ['HS256'], secret: secretOf(100) } as JwtOptions);
    const other = secretOf(100).map((b) => b ^ 1);
    expect(paths.fast!(await token('HS256', other, {}))).toBeUndefined();
  });
});
