import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodePayload,
  hmacKeyedToken,
  keysFromJwks,
  keysFromPem,
  tamperedToken,
} from '../../cli/forge.ts';
import { statedLifetime } from '../../cli/probes-tickets.ts';
import { JWKS, KID, PUBLIC_PEM, signRs256 } from './rsa-keys.ts';

describe('forged credentials', () => {
  it('a tampered token keeps the header and signature, and raises the claims', async () => {
    const token = await signRs256('alice');
    const forged = tamperedToken(token)!;
    const [h, p, s] = forged.split('.');
    expect(h).toBe(token.split('.')[0]);
    expect(s).toBe(token.split('.')[2]);
    expect(p).not.toBe(token.split('.')[1]);
    expect(decodePayload(forged)).toMatchObject({ sub: 'admin', roles: ['admin'] });
    expect(decodePayload(forged)?.exp).toBe(decodePayload(token)?.exp);
    expect(tamperedToken('not-a-jwt')).toBeUndefined();
  });

  it('an HS256 token keyed with the public key verifies with that key as an HMAC secret', () => {
    const token = hmacKeyedToken(PUBLIC_PEM, { sub: 'alice', iss: 'me' }, KID);
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
      kid: KID,
    });
    expect(createHmac('sha256', PUBLIC_PEM).update(`${h}.${p}`).digest('base64url')).toBe(s);
    expect(decodePayload(token)).toMatchObject({ sub: 'alice', iss: 'me' });
  });

  it('key variants: the PEM as given (and trimmed when it differs), the JWKS key as PEM and JSON', () => {
    expect(keysFromPem(PUBLIC_PEM).map((k) => k.what)).toEqual(['the PEM file as given']);
    expect(keysFromPem(`  ${PUBLIC_PEM}\n\n`)).toHaveLength(2);
    const fromSet = keysFromJwks(JWKS);
    expect(fromSet.map((k) => k.what)).toEqual(['the PEM of the JWKS key', 'the JWK JSON']);
    // The PEM derived from the key set is the same key as the file.
    expect(fromSet[0]!.key).toBe(PUBLIC_PEM);
    expect(fromSet.every((k) => k.kid === KID)).toBe(true);
    expect(keysFromJwks({ keys: [{ kty: 'oct', k: 'AAAA' }] })).toEqual([]);
    expect(keysFromJwks('nonsense')).toEqual([]);
  });

  it('reads a ticket lifetime from expiresIn, ttlMs or expiresAt (ms, s or ISO), else none', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(statedLifetime({ expiresIn: 10 }, now)).toBe(10);
    expect(statedLifetime({ expires_in: 90 }, now)).toBe(90);
    expect(statedLifetime({ ttlMs: 30_000 }, now)).toBe(30);
    expect(statedLifetime({ expiresAt: now + 120_000 }, now)).toBe(120);
    expect(statedLifetime({ expiresAt: now / 1000 + 45 }, now)).toBe(45);
    expect(statedLifetime({ expiresAt: '2026-01-01T00:05:00Z' }, now)).toBe(300);
    expect(statedLifetime({ ticket: 'x' }, now)).toBeUndefined();
  });
});
