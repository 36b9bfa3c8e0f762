/**
 * JWT verification with jose: algorithms pinned, `exp` required, `iss`/`aud`/`typ` checked when
 * configured, keys imported once at start-up. The classic confusions are refused at construction:
 * an HMAC secret under 32 bytes, a PEM or public key used as an HMAC secret, HMAC and public-key
 * algorithms mixed in one verifier, and `none` in any casing.
 *
 * Stricter than jose's defaults, on both paths (the synchronous HS* one and jose's): only the
 * canonical spelling of a token (`jwt-canonical.ts`), an `aud` refused when no audience is
 * configured, an `iat` in the future refused and one older than `maxTokenAgeSec` expired
 * (`createClaimPolicy` in `jwt-claims.ts`). The options and their check are in
 * `jwt-options.ts`, the key import in `jwt-keys.ts`.
 *
 * @module
 */
import { errors, type JWTPayload, jwtVerify } from 'jose';
import { CredentialError, StoreUnavailableError } from '../core/errors.ts';
import { createVerifiedTokens } from './jwt-cache.ts';
import { isCanonicalCompact } from './jwt-canonical.ts';
import { checkTimes, createClaimPolicy, freezeClaims } from './jwt-claims.ts';
import { createHmacFastPath } from './jwt-hmac.ts';
import { importKeys } from './jwt-keys.ts';
import { type JwtOptions, validateJwtOptions } from './jwt-options.ts';
import { secretBytes } from './jwt-secret.ts';
import { type Principal, principalFromClaims } from './principal.ts';

// Where the options lived before the split; mod.ts and guard/options.ts import them from here.

/** A configured verifier. */
export interface JwtVerifier {
  /** Verify a token and map it to a principal; throws {@link CredentialError}. */
  verify(token: string): Promise<Principal>;
  /** Resolves once keys are imported; rejects if a key cannot be imported. */
  ready(): Promise<void>;
}

/** {@link JwtOptions.maxTokenAgeSec}'s default: a day. */
const DEFAULT_MAX_TOKEN_AGE_SEC = 86_400;
/** {@link JwtOptions.cache}'s default. */
const DEFAULT_CACHE_ENTRIES = 1000;

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
   * The checks of both paths that depend on the clock (`nbf`, `exp`, the `iat` rules), on claims
   * that passed all the others: what a remembered token must pass again (`jwt-cache.ts`).
   */
  readonly recheck: (claims: JWTPayload) => void;
  /** Which keys verify now (see `ImportedKeys.version` in `jwt-keys.ts`). */
  readonly keyVersion: () => unknown;
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

  const imported = importKeys(options, algorithms);
  const keyPromise = imported.keys;

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

  const recheck = (claims: JWTPayload): void => {
    checkTimes(claims, clockTolerance);
    policy(claims);
  };

  return { fast, jose, keys: keyPromise, recheck, keyVersion: imported.version, maxTokenAgeSec };
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
  const cache = createVerifiedTokens({
    max: options.cache === false ? 0 : (options.cache ?? DEFAULT_CACHE_ENTRIES),
  });

  /** The claims `token` verifies to, by either path, frozen; throws the guard's error. */
  const claimsOf = async (token: string): Promise<JWTPayload> => {
    // Read before verifying: keys that change meanwhile leave an entry that never hits.
    const version = paths.keyVersion();
    const remembered = cache?.get(token, version);
    if (remembered !== undefined) {
      try {
        paths.recheck(remembered);
        return remembered;
      } catch (error) {
        cache!.delete(token);
        throw fromJose(error);
      }
    }
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
    // Frozen on every path, so that the mapping sees the same kind of object hit or miss, and
    // nothing it does to one verification's claims reaches the next hit's checks.
    freezeClaims(payload);
    cache?.set(token, payload, version);
    return payload;
  };

  return {
    ready: async () => {
      await paths.keys;
    },
    async verify(token: string): Promise<Principal> {
      const payload = await claimsOf(token);
      const principal = toPrincipal(payload);
      if (!principal) throw new CredentialError('token has no usable subject');
      return boundedByAge(principal, payload, paths.maxTokenAgeSec);
    },
  };
}
