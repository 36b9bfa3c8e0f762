/**
 * The forged credentials the audit sends (an unsigned token with `alg` none, one signed with a random
 * key), built with `node:crypto` alone so the CLI needs no JWT library.
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';

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
