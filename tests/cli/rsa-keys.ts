/**
 * An RS256 key pair for the CLI tests (made once per process with node:crypto), its public key as
 * PEM and as a key set, and a signer for valid RS256 tokens.
 */
import { generateKeyPairSync } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';

const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** The public key, SPKI PEM (what `--public-key` reads). */
export const PUBLIC_PEM: string = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The key id the key set and the tokens carry. */
export const KID = 'cli-test-rsa';

/** The public key as a JWKS (what `--jwks` fetches). */
export const JWKS: { keys: Record<string, unknown>[] } = {
  keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }],
};

/** A valid RS256 token for `sub`, `exp` in `ttl`. */
export async function signRs256(sub: string, ttl: string | number = '5m'): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'RS256', kid: KID })
    .setSubject(sub)
    .setExpirationTime(ttl)
    .sign(await importPKCS8(PRIVATE_PEM, 'RS256'));
}
