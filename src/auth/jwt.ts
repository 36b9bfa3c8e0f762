/**
 * JWT verification with jose: algorithms pinned, `exp` required, `iss`/`aud`/`typ` checked when
 * configured, keys imported once at start-up. The classic confusions are refused at construction:
 * an HMAC secret under 32 bytes, a PEM or public key used as an HMAC secret, HMAC and public-key
 * algorithms mixed in one verifier, and `none` in any casing.
 *
 * Stricter than jose's defaults, on both paths (the synchronous HS* one and jose's): only the
 * canonical spelling of a token (`jwt-canonical.ts`), an `aud` refused when no audience is
 * configured, an `iat` in the future refused and one older than `maxTokenAgeSec` expired
 * (`createClaimPolicy` in `jwt-claims.ts`).
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
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { CredentialError, StoreUnavailableError } from '../core/errors.ts';
import { isCanonicalCompact } from './jwt-canonical.ts';
import { createClaimPolicy } from './jwt-claims.ts';
import { createHmacFastPath } from './jwt-hmac.ts';
import { type Principal, principalFromClaims } from './principal.ts';

/** Algorithms wsguard accepts for JWTs. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

/** A JSON Web Key: the Web standard's `JsonWebKey` plus the key id and certificate fields of RFC 7517. */
export interface Jwk extends JsonWebKey {
  /** Key id, matched against a token's `kid` header in a key set. */
  kid?: string;
  /** Intended use (`sig`). */
  use?: string;
  /** X.509 certificate chain. */
  x5c?: string[];
}

/**
 * JWT verification options. Exactly one of `secret`, `publicKey` or `jwks`.
 *
 * Always, whatever the options: `exp` is required; a token is accepted only in its canonical
 * compact form (three unpadded base64url segments, no whitespace, no unused bit set), so one
 * token has one text for anything keyed on it (replay caches, deny-lists, audit correlation);
 * an `iat` later than now plus the clock tolerance is refused.
 */
export interface JwtOptions {
  /** The algorithms accepted; anything else (including `none`) is refused. Required. */
  readonly algorithms: readonly JwtAlgorithm[];
  /** HMAC secret (HS*), at least 32 bytes. */
  readonly secret?: string | Uint8Array;
  /** Public key for RS/PS/ES/EdDSA: PEM (SPKI), a JWK, or a `CryptoKey`. */
  readonly publicKey?: string | Jwk | CryptoKey;
  /** A key set: a local JWKS object, or the URL of a remote one (fetched, cached, rate-limited by jose). */
  readonly jwks?: { readonly keys: readonly Jwk[] } | URL | string;
  /** Required `iss`. */
  readonly issuer?: string | readonly string[];
  /**
   * The audience this service answers to: a token must carry `aud` naming one of these values.
   * Without it, a token that carries any `aud` is refused (RFC 7519 §4.1.3: a token for another
   * service, signed with a shared secret or by a shared key set, must not open a socket here),
   * unless {@link JwtOptions.allowAnyAudience}; tokens without `aud` are accepted.
   */
  readonly audience?: string | readonly string[];
  /**
   * With no `audience` configured, accept tokens whatever their `aud` says. An explicit opt-in
   * for an issuer that stamps every token with an `aud` this service cannot predict; prefer
   * configuring `audience`. Has no meaning with `audience` set (the doctor refuses both).
   * @default false
   */
  readonly allowAnyAudience?: boolean;
  /** Required `typ` header (e.g. `at+jwt`). */
  readonly typ?: string;
  /**
   * Allowed clock skew in seconds for `exp`/`nbf`/`iat`. Issuers stamp `iat` with their clock's
   * now: a server clock behind the issuer's by more than this refuses fresh tokens, so keep
   * clocks synchronized (NTP) or raise it.
   * @default 5
   */
  readonly clockToleranceSec?: number;
  /**
   * The oldest token accepted, in seconds since its `iat` (plus the clock tolerance); an older
   * one is refused as expired (4002, as for `exp`), and a connection opened with a token ends
   * when the token reaches this age, if that comes before its `exp`. `false`: no bound (`exp`
   * alone). Tokens presented to open a socket are short-lived: one issued a day ago is more
   * likely copied than fresh, whatever its `exp` says.
   *
   * A token without `iat` is not bounded by this (only by its required `exp`): many issuers
   * omit `iat`, and refusing them by default would turn an upgrade into an outage. Set
   * {@link JwtOptions.requireIat} to refuse them. An `iat` after now (beyond the clock
   * tolerance) is always refused, whatever this says.
   * @default 86400 (24 h)
   */
  readonly maxTokenAgeSec?: number | false;
  /**
   * Refuse tokens without an `iat` claim, so that every token is bounded by `maxTokenAgeSec`.
   * @default false
   */
  readonly requireIat?: boolean;
  /** Map verified claims to a principal. @default principalFromClaims */
  readonly principal?: (claims: Readonly<Record<string, unknown>>) => Principal | undefined;
}

/** A configured verifier. */
export interface JwtVerifier {
  /** Verify a token and map it to a principal; throws {@link CredentialError}. */
  verify(token: string): Promise<Principal>;
  /** Resolves once keys are imported; rejects if a key cannot be imported. */
  ready(): Promise<void>;
}

const HMAC = new Set(['HS256', 'HS384', 'HS512']);
const MIN_SECRET_BYTES = 32;
/** {@link JwtOptions.maxTokenAgeSec}'s default: a day. */
const DEFAULT_MAX_TOKEN_AGE_SEC = 86_400;

type KeyInput =
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

/**
 * The secret's bytes, as one view both verification paths use: a string as UTF-8, any
 * `ArrayBufferView` (Buffer, Uint8Array, DataView) over exactly its own bytes, an `ArrayBuffer`
 * whole. `undefined` for anything else (a `KeyObject`, a plain object), which the doctor refuses:
 * treating an unknown object as bytes could mean verifying with an empty key.
 */
function secretBytes(secret: unknown): Uint8Array | undefined {
  if (typeof secret === 'string') return new TextEncoder().encode(secret);
  if (ArrayBuffer.isView(secret))
    return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  if (secret instanceof ArrayBuffer) return new Uint8Array(secret);
  return undefined;
}

/** Check JWT options; returns one problem per unsafe or malformed setting. */
export function validateJwtOptions(options: JwtOptions): string[] {
  const problems: string[] = [];
  const algs = options.algorithms as readonly string[] | undefined;
  if (!Array.isArray(algs) || algs.length === 0) {
    problems.push("jwt.algorithms: pin the algorithms you issue, e.g. ['HS256'] or ['ES256']");
    return problems;
  }
  if (algs.some((a) => typeof a === 'string' && a.toLowerCase() === 'none')) {
    problems.push("jwt.algorithms: 'none' means unsigned tokens; remove it");
  }
  const hmac = algs.filter((a) => HMAC.has(a));
  if (hmac.length > 0 && hmac.length < algs.length) {
    problems.push(
      'jwt.algorithms: HMAC (HS*) and public-key algorithms in one verifier enable key confusion; use one family',
    );
  }
  const sources = [options.secret, options.publicKey, options.jwks].filter(
    (v) => v !== undefined,
  ).length;
  if (sources !== 1) problems.push('jwt: give exactly one of secret, publicKey or jwks');
  if (options.secret !== undefined) {
    if (hmac.length === 0)
      problems.push('jwt.secret: a secret only verifies HS* algorithms; pin HS256/384/512');
    const given = secretBytes(options.secret);
    if (given === undefined)
      problems.push('jwt.secret: give a string or bytes (Uint8Array, Buffer, ArrayBuffer)');
    const bytes = given ?? new Uint8Array(0);
    // Bytes are checked too: `readFileSync('public.pem')` hands over a PEM as a Buffer.
    const text =
      typeof options.secret === 'string' ? options.secret : new TextDecoder().decode(bytes);
    const jsonLike = text.trimStart().startsWith('{');
    if (
      text.includes('-----BEGIN') ||
      (jsonLike && (typeof options.secret === 'string' || text.includes('"kty"')))
    ) {
      problems.push(
        'jwt.secret: this looks like a PEM or JWK key; a public key must never be used as an HMAC secret (use publicKey)',
      );
    } else if (bytes.byteLength < MIN_SECRET_BYTES) {
      problems.push(
        `jwt.secret: ${bytes.byteLength} bytes is guessable; use at least ${MIN_SECRET_BYTES} random bytes`,
      );
    }
  }
  const tolerance = options.clockToleranceSec;
  if (
    tolerance !== undefined &&
    !(typeof tolerance === 'number' && tolerance >= 0 && tolerance < Infinity)
  )
    problems.push('jwt.clockToleranceSec: a number of seconds, 0 or more');
  const maxAge = options.maxTokenAgeSec as unknown;
  if (
    maxAge !== undefined &&
    maxAge !== false &&
    !(typeof maxAge === 'number' && maxAge > 0 && maxAge < Infinity)
  )
    problems.push('jwt.maxTokenAgeSec: a number of seconds above 0, or false for no bound');
  for (const flag of ['allowAnyAudience', 'requireIat'] as const) {
    const value = options[flag] as unknown;
    if (value !== undefined && typeof value !== 'boolean')
      problems.push(`jwt.${flag}: true or false`);
  }
  if (options.allowAnyAudience === true && options.audience !== undefined)
    problems.push(
      'jwt.allowAnyAudience: an audience is configured, so tokens must name it; remove allowAnyAudience',
    );
  if ((options.publicKey !== undefined || options.jwks !== undefined) && hmac.length > 0) {
    problems.push(
      'jwt: a public key or JWKS verifies asymmetric algorithms only; remove HS* from algorithms',
    );
  }
  return problems;
}

/** A jose failure as the guard's error: the client's bad token, or our key-set outage. */
function fromJose(error: unknown): CredentialError | StoreUnavailableError {
  if (error instanceof errors.JWTExpired) return new CredentialError('token expired', true);
  // A key set that cannot be fetched is our outage, not the client's bad token: clients must back
  // off (503), not throw away their credentials (4001).
  if (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError) ||
    // jose reports a failed key-set fetch (non-200, bad body) with its generic base class.
    error.constructor === errors.JOSEError
  ) {
    return new StoreUnavailableError('key set unavailable', { cause: error });
  }
  return new CredentialError('invalid token', false, { cause: error });
}

function isUrlLike(value: unknown): value is URL | string {
  return value instanceof URL || typeof value === 'string';
}

/**
 * The two ways one verifier checks a token, each complete: canonical spelling, signature, jose's
 * claim checks and wsguard's claim policy. Exported for the differential test that holds them to
 * the same answers; not part of the public API (`mod.ts` does not re-export it).
 */
export interface TokenPaths {
  /**
   * The synchronous HS* path (`jwt-hmac.ts`): the verified claims, a jose error thrown, or
   * `undefined` when it does not take the token (then `jose` decides). Absent for public keys,
   * key sets, and runtimes without `node:crypto`.
   */
  readonly fast: ((token: string) => JWTPayload | undefined) | undefined;
  /** jose's path: the verified claims, or a rejection with jose's error. Awaits `keys`. */
  readonly jose: (token: string) => Promise<JWTPayload>;
  /** Settles once keys are imported; rejects with the import's failure. */
  readonly keys: Promise<unknown>;
  /**
   * The age bound applied, in seconds (`undefined`: none): a principal's `expiresAt` is capped
   * at `iat` plus this.
   */
  readonly maxTokenAgeSec: number | undefined;
}

/** Build both verification paths for valid `options` (see {@link TokenPaths}). */
export function createTokenPaths(options: JwtOptions): TokenPaths {
  const problems = validateJwtOptions(options);
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  const algorithms = [...options.algorithms];

  let keyPromise: Promise<KeyInput>;
  if (options.secret !== undefined) {
    const bytes = secretBytes(options.secret)!; // the doctor refused anything else
    // Import the HMAC key once per algorithm: handing jose raw bytes re-imports it on every verify.
    const hashes: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };
    keyPromise = Promise.all(
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
  } else if (options.jwks !== undefined) {
    const jwks = options.jwks;
    const getKey = isUrlLike(jwks)
      ? createRemoteJWKSet(new URL(jwks), { timeoutDuration: 2000, cooldownDuration: 30_000 })
      : createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    keyPromise = Promise.resolve(getKey as unknown as KeyInput);
  } else {
    const pk = options.publicKey!;
    // One imported key per algorithm, because WebCrypto keys are bound to their algorithm.
    keyPromise = Promise.all(
      algorithms.map(async (alg): Promise<[string, CryptoKey]> => {
        if (typeof pk === 'string') return [alg, (await importSPKI(pk, alg)) as CryptoKey];
        if ('type' in pk && 'algorithm' in pk) return [alg, pk as CryptoKey];
        return [alg, (await importJWK(pk as JWK, alg)) as unknown as CryptoKey];
      }),
    ).then(byAlgorithm);
  }
  // A failed import must not become an unhandled rejection before anyone awaits it.
  keyPromise.catch(() => {});

  const clockTolerance = options.clockToleranceSec ?? 5;
  const verifyOptions = {
    algorithms,
    requiredClaims: options.requireIat === true ? ['exp', 'iat'] : ['exp'],
    clockTolerance,
    ...(options.issuer !== undefined ? { issuer: options.issuer as string | string[] } : {}),
    ...(options.audience !== undefined ? { audience: options.audience as string | string[] } : {}),
    ...(options.typ !== undefined ? { typ: options.typ } : {}),
  };
  const maxTokenAgeSec =
    options.maxTokenAgeSec === false
      ? undefined
      : (options.maxTokenAgeSec ?? DEFAULT_MAX_TOKEN_AGE_SEC);
  // One function for wsguard's own claim rules, run by both paths on the claims jose's checks
  // passed: they cannot disagree on it.
  const policy = createClaimPolicy({
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    allowAnyAudience: options.allowAnyAudience === true,
    ...(maxTokenAgeSec !== undefined ? { maxTokenAge: maxTokenAgeSec } : {}),
    clockTolerance,
  });

  // HS* tokens are checked synchronously where the runtime allows (see jwt-hmac.ts); anything the
  // fast path does not take, and every other runtime, goes through jwtVerify.
  // The same bytes jose imports: one conversion, so the two paths cannot disagree on the key.
  const hmac =
    options.secret === undefined
      ? undefined
      : createHmacFastPath(secretBytes(options.secret)!, algorithms, verifyOptions);
  const fast =
    hmac &&
    ((token: string): JWTPayload | undefined => {
      const payload = hmac(token);
      if (payload !== undefined) policy(payload);
      return payload;
    });

  const jose = async (token: string): Promise<JWTPayload> => {
    // jose decodes leniently (padding, whitespace, unused bits): without this, one token would
    // verify under several spellings. Checked before any key is fetched: costs nothing.
    if (!isCanonicalCompact(token))
      throw new errors.JWSInvalid('JWS must be three canonical, unpadded base64url segments');
    const key = await keyPromise;
    // biome-ignore lint/suspicious/noExplicitAny: jose overloads differ only by key type
    const { payload } = await jwtVerify(token, key as any, verifyOptions);
    policy(payload);
    return payload;
  };

  return { fast, jose, keys: keyPromise, maxTokenAgeSec };
}

/**
 * `principal` with its `expiresAt` no later than the end of the token's accepted age: a
 * connection must not outlive a credential the verifier would now refuse as too old.
 */
function boundedByAge(
  principal: Principal,
  claims: JWTPayload,
  maxTokenAgeSec: number | undefined,
): Principal {
  if (maxTokenAgeSec === undefined || typeof claims.iat !== 'number') return principal;
  const end = (claims.iat + maxTokenAgeSec) * 1000;
  if (principal.expiresAt !== undefined && principal.expiresAt <= end) return principal;
  return { ...principal, expiresAt: end };
}

/**
 * Build a verifier. Keys are imported once here, not per verification.
 *
 * @example
 * ```ts
 * const jwt = createJwtVerifier({ algorithms: ['HS256'], secret: process.env.JWT_SECRET!, issuer: 'https://auth.example.com' });
 * const principal = await jwt.verify(token);
 * ```
 */
export function createJwtVerifier(options: JwtOptions): JwtVerifier {
  const paths = createTokenPaths(options);
  const toPrincipal = options.principal ?? principalFromClaims;

  return {
    ready: async () => {
      await paths.keys;
    },
    async verify(token: string): Promise<Principal> {
      let payload: JWTPayload | undefined;
      try {
        payload = paths.fast?.(token);
      } catch (error) {
        throw fromJose(error);
      }
      if (payload === undefined) {
        // A key that failed to import is a server fault, raised as it is (not a bad token).
        await paths.keys;
        try {
          payload = await paths.jose(token);
        } catch (error) {
          throw fromJose(error);
        }
      }
      const principal = toPrincipal(payload);
      if (!principal) throw new CredentialError('token has no usable subject');
      return boundedByAge(principal, payload, paths.maxTokenAgeSec);
    },
  };
}
