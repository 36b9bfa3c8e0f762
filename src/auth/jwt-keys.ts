/**
 * The verification keys of one verifier, imported once at construction, not per token: an HMAC
 * secret or a public key as one `CryptoKey` per pinned algorithm (Web Crypto keys are bound to
 * their algorithm), a key set as jose's local or remote lookup.
 *
 * @module
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  importJWK,
  importSPKI,
  type JSONWebKeySet,
  type JWK,
  jwksCache,
} from 'jose';
import type { JwtOptions } from './jwt-options.ts';
import { secretBytes } from './jwt-secret.ts';

/** What jose's `jwtVerify` takes as its key: one key, or a lookup by the token's header. */
export type KeyInput =
  | CryptoKey
  | Uint8Array
  | ((header: { alg?: string }) => Promise<CryptoKey | Uint8Array>);

/** A key lookup by the token's `alg` header, over keys imported once per pinned algorithm. */
function byAlgorithm(
  pairs: [string, CryptoKey][],
): (header: { alg?: string }) => Promise<CryptoKey> {
  const byAlg = new Map(pairs);
  return (header) => {
    const key = header.alg === undefined ? undefined : byAlg.get(header.alg);
    return key
      ? Promise.resolve(key)
      : Promise.reject(new errors.JOSEAlgNotAllowed('alg not allowed'));
  };
}

function isUrlLike(value: unknown): value is URL | string {
  return value instanceof URL || typeof value === 'string';
}

/** The HMAC key, imported once per algorithm: handing jose raw bytes re-imports it on every verify. */
function importSecret(secret: string | Uint8Array, algorithms: string[]): Promise<KeyInput> {
  const bytes = secretBytes(secret)!; // the doctor refused anything else
  const hashes: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };
  return Promise.all(
    algorithms.map(
      async (alg): Promise<[string, CryptoKey]> => [
        alg,
        await crypto.subtle.importKey(
          'raw',
          bytes as Uint8Array<ArrayBuffer>,
          { name: 'HMAC', hash: hashes[alg]! },
          false,
          ['verify'],
        ),
      ],
    ),
  ).then(byAlgorithm);
}

/** A public key, one imported key per algorithm, because WebCrypto keys are bound to their algorithm. */
function importPublicKey(
  pk: NonNullable<JwtOptions['publicKey']>,
  algorithms: string[],
): Promise<KeyInput> {
  return Promise.all(
    algorithms.map(async (alg): Promise<[string, CryptoKey]> => {
      if (typeof pk === 'string') return [alg, (await importSPKI(pk, alg)) as CryptoKey];
      if ('type' in pk && 'algorithm' in pk) return [alg, pk as CryptoKey];
      return [alg, (await importJWK(pk as JWK, alg)) as unknown as CryptoKey];
    }),
  ).then(byAlgorithm);
}

/** The keys of a verifier, and which version of them verifies now. */
export interface ImportedKeys {
  /** The key, or the lookup by a token's header; rejects if it cannot be imported. */
  readonly keys: Promise<KeyInput>;
  /**
   * Which keys verify now: the same value for as long as they are the same keys, a new one when
   * they may have changed, `undefined` while they cannot vouch for anything remembered (a remote
   * set jose would fetch again first). For the verifier's cache (`jwt-cache.ts`).
   */
  readonly version: () => unknown;
}

/** The version of keys that never change (a secret, a public key, a local key set). */
const STATIC = 0;

/**
 * A remote key set, with its version: the time of the last reload jose applied, which jose
 * writes into the `jwksCache` object it is given (after checking that no newer reload won the
 * race), and none while jose's copy is past its max age (the next verification fetches first).
 */
function remoteKeys(url: URL | string): ImportedKeys {
  const applied: { uat?: number } = {};
  const set = createRemoteJWKSet(new URL(url), {
    timeoutDuration: 2000,
    cooldownDuration: 30_000,
    [jwksCache]: applied as Record<string, never>,
  });
  return {
    keys: Promise.resolve(set as unknown as KeyInput),
    version: () => (set.fresh ? applied.uat : undefined),
  };
}

/**
 * The keys of valid `options` (exactly one of `secret`, `jwks`, `publicKey`) for `algorithms`.
 * A failed import rejects the promise, never unhandled: a catch is attached here, before anyone
 * awaits it.
 */
export function importKeys(options: JwtOptions, algorithms: string[]): ImportedKeys {
  let imported: ImportedKeys;
  const fixed = (keys: Promise<KeyInput>): ImportedKeys => ({ keys, version: () => STATIC });
  if (options.secret !== undefined) {
    imported = fixed(importSecret(options.secret, algorithms));
  } else if (options.jwks !== undefined) {
    const jwks = options.jwks;
    imported = isUrlLike(jwks)
      ? remoteKeys(jwks)
      : fixed(
          Promise.resolve(
            createLocalJWKSet(jwks as unknown as JSONWebKeySet) as unknown as KeyInput,
          ),
        );
  } else {
    imported = fixed(importPublicKey(options.publicKey!, algorithms));
  }
  // A failed import must not become an unhandled rejection before anyone awaits it.
  imported.keys.catch(() => {});
  return imported;
}
