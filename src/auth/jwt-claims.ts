/**
 * The JWT claim checks of jose's `jwtVerify`, for the synchronous HS* path (`jwt-hmac.ts`), for
 * the options wsguard passes: `typ`, required claims, `iss`, `aud`, `iat`/`nbf`/`exp` with a clock
 * tolerance in seconds. Same order, same conditions, same jose error classes, messages, claim
 * names and reasons (jose 6, `lib/jwt_claims_set.js`), so the guard maps every outcome exactly as
 * it maps jose's (expired → 4002, anything else → 4001).
 *
 * Why not call jose: its claim checks are reachable only through `jwtVerify` (which verifies the
 * signature with Web Crypto, the cost the fast path exists to avoid) or `UnsecuredJWT.decode`,
 * which re-parses a header and re-splits the token first: ~45 µs of a handshake on a loaded Node
 * server against ~10 µs here. `tests/unit/jwt-hmac.property.test.ts` holds this module to
 * jose's answers on generated claims, boundaries included (a frozen clock).
 *
 * {@link createClaimPolicy} adds wsguard's own rules, which jose's options cannot express (an
 * `aud` refused when no audience is configured, an `iat` checked only when present). Both paths
 * run that one function on the claims their jose checks returned, so they cannot differ there.
 *
 * @module
 */
import { base64url, errors, type JWTPayload } from 'jose';

/** The subset of jose's claim options the guard uses. */
export interface ClaimChecks {
  /** Claims that must be present (the guard requires `exp`). */
  readonly requiredClaims?: readonly string[];
  /** Accepted `iss` values. */
  readonly issuer?: string | readonly string[];
  /** Accepted `aud` values (one match is enough). */
  readonly audience?: string | readonly string[];
  /** Required header `typ`, compared as jose does (`application/` prefix optional, any case). */
  readonly typ?: string;
  /** Seconds of tolerance for `nbf` and `exp`. */
  readonly clockTolerance?: number;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const CHECK_FAILED = 'check_failed';

const normalizeTyp = (value: string): string => {
  const normalized = value.toLowerCase();
  return value.includes('/') ? normalized : `application/${normalized}`;
};

function numericDate(claims: JWTPayload, claim: 'iat' | 'nbf' | 'exp'): number | undefined {
  const value = claims[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') {
    throw new errors.JWTClaimValidationFailed(
      `"${claim}" claim must be a number`,
      claims,
      claim,
      'invalid',
    );
  }
  return value;
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The payload's text when it is ASCII (the usual claims), the short way: jose decodes base64url
 * with `atob` after mapping `-_` to `+/` (refusing `+` and `/`), copies the binary string into
 * bytes and decodes them as UTF-8; for ASCII bytes that decoding is the binary string itself.
 * `undefined` for anything else (non-ASCII, undecodable), which takes jose's way and its errors.
 */
function asciiText(segment: string): string | undefined {
  if (segment.includes('+') || segment.includes('/')) return undefined;
  try {
    const binary = atob(segment.replaceAll('-', '+').replaceAll('_', '/'));
    return NON_ASCII.test(binary) ? undefined : binary;
  } catch {
    return undefined;
  }
}

/** The payload segment's text, decoded as jose decodes it, with jose's errors. */
function payloadText(payloadSegment: string): string {
  const ascii = asciiText(payloadSegment);
  if (ascii !== undefined) return ascii;
  let bytes: Uint8Array;
  try {
    bytes = base64url.decode(payloadSegment);
  } catch (cause) {
    throw new errors.JWSInvalid('Failed to base64url decode the payload', { cause });
  }
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause });
  }
}

/** The payload segment, decoded as jose decodes it, with jose's errors. */
function decodeClaims(payloadSegment: string): JWTPayload {
  const text = payloadText(payloadSegment);
  let claims: JWTPayload;
  try {
    claims = JSON.parse(text);
  } catch (cause) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause });
  }
  // What JSON.parse returns is a plain object exactly when it is an object and not an array.
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  return claims;
}

/** `aud` holds one of the accepted audiences: a string equal to one, or an array with one. */
function audienceMatches(aud: unknown, audiences: readonly string[]): boolean {
  return typeof aud === 'string'
    ? audiences.includes(aud)
    : Array.isArray(aud)
      ? audiences.some((a) => aud.includes(a))
      : false;
}

/**
 * jose's `iat` type check, then `nbf` and `exp` against the clock read once, per call. Exported
 * for the verifier's cache, which runs it again on every hit (`jwt-cache.ts`).
 */
export function checkTimes(claims: JWTPayload, tolerance: number): void {
  const now = Math.floor(Date.now() / 1000);
  numericDate(claims, 'iat'); // validated for type only, as jose does without maxTokenAge
  const nbf = numericDate(claims, 'nbf');
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new errors.JWTClaimValidationFailed(
      '"nbf" claim timestamp check failed',
      claims,
      'nbf',
      CHECK_FAILED,
    );
  }
  const exp = numericDate(claims, 'exp');
  if (exp !== undefined && exp <= now - tolerance) {
    throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', CHECK_FAILED);
  }
}

/** The options, resolved once per guard: the lists to compare with and the presence order. */
interface CompiledChecks {
  readonly tolerance: number;
  readonly issuers: readonly string[] | undefined;
  readonly audiences: readonly string[] | undefined;
  readonly typ: string | undefined;
  readonly mustHave: readonly string[];
}

/** Validates the options and resolves them, as jose does before its first check. */
function compileChecks(options: ClaimChecks): CompiledChecks {
  const tolerance = options.clockTolerance ?? 0;
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw new TypeError('Invalid clockTolerance option input');
  const issuers =
    options.issuer === undefined
      ? undefined
      : Array.isArray(options.issuer)
        ? (options.issuer as readonly string[])
        : [options.issuer as string];
  const audiences =
    options.audience === undefined
      ? undefined
      : typeof options.audience === 'string'
        ? [options.audience]
        : options.audience;
  const typ = options.typ === undefined ? undefined : normalizeTyp(options.typ);
  // jose's presence order: the required claims, then aud, then iss, checked last-added first.
  const presence = [...(options.requiredClaims ?? [])];
  if (audiences !== undefined) presence.push('aud');
  if (issuers !== undefined) presence.push('iss');
  const mustHave = [...new Set(presence.reverse())];
  return { tolerance, issuers, audiences, typ, mustHave };
}

/**
 * A compiled check: `(headerTyp, payloadSegment) → claims`, throwing jose's errors. The clock
 * is read per call (`Date.now`, as jose's `new Date()`).
 */
export function createClaimChecks(
  options: ClaimChecks,
): (headerTyp: unknown, payloadSegment: string) => JWTPayload {
  const { tolerance, issuers, audiences, typ, mustHave } = compileChecks(options);
  return (headerTyp, payloadSegment) => {
    const claims = decodeClaims(payloadSegment);
    if (typ !== undefined && (typeof headerTyp !== 'string' || normalizeTyp(headerTyp) !== typ)) {
      throw new errors.JWTClaimValidationFailed(
        'unexpected "typ" JWT header value',
        claims,
        'typ',
        CHECK_FAILED,
      );
    }
    for (const claim of mustHave) {
      if (!Object.hasOwn(claims, claim)) {
        throw new errors.JWTClaimValidationFailed(
          `missing required "${claim}" claim`,
          claims,
          claim,
          'missing',
        );
      }
    }
    if (issuers !== undefined && !issuers.includes(claims.iss as string)) {
      throw new errors.JWTClaimValidationFailed(
        'unexpected "iss" claim value',
        claims,
        'iss',
        CHECK_FAILED,
      );
    }
    if (audiences !== undefined && !audienceMatches(claims.aud, audiences)) {
      throw new errors.JWTClaimValidationFailed(
        'unexpected "aud" claim value',
        claims,
        'aud',
        CHECK_FAILED,
      );
    }
    checkTimes(claims, tolerance);
    return claims;
  };
}

/** wsguard's claim rules beyond jose's, for {@link createClaimPolicy}. */
export interface ClaimPolicy {
  /**
   * `aud` values this service answers to, as configured (jose then checks them). When there are
   * none, a token that carries `aud` at all is refused unless `allowAnyAudience`.
   */
  readonly audience?: string | readonly string[];
  /** Accept a token's `aud` when no audience is configured. */
  readonly allowAnyAudience?: boolean;
  /** Oldest `iat` accepted, in seconds before now (plus tolerance); `undefined`: no bound. */
  readonly maxTokenAge?: number;
  /** Seconds of tolerance, as for `nbf` and `exp`. */
  readonly clockTolerance?: number;
}

/**
 * The rules jose leaves out, as a check on verified claims (throws jose's error classes):
 *
 * - `aud` present, no audience configured: RFC 7519 §4.1.3 says a recipient that does not
 *   identify itself with a value in `aud` MUST reject the token, and with a shared secret or a
 *   shared key set, tokens minted for another service otherwise pass here.
 *   `JWTClaimValidationFailed` (claim `aud`), unless `allowAnyAudience`.
 * - `iat` after now + tolerance: a token claiming to be issued in the future is forged or minted
 *   by a broken clock, and would defeat any age bound. `JWTClaimValidationFailed` (claim `iat`),
 *   jose's message for the same check under `maxTokenAge`.
 * - `iat` before now − `maxTokenAge` − tolerance: `JWTExpired` (claim `iat`), as jose reports it,
 *   so the guard answers 4002 (get a new token), not 4001.
 *
 * A token without `iat` passes both `iat` rules (it is bounded by its required `exp`); whether
 * `iat` must be present is a required claim, checked with jose's. The type of `iat` was checked
 * by jose (or `createClaimChecks`) already.
 */
export function createClaimPolicy(policy: ClaimPolicy): (claims: JWTPayload) => void {
  const tolerance = policy.clockTolerance ?? 0;
  const maxAge = policy.maxTokenAge;
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw new TypeError('Invalid clockTolerance option input');
  if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge > 0))
    throw new TypeError('Invalid maxTokenAge option input');
  const refuseAud = policy.audience === undefined && policy.allowAnyAudience !== true;
  return (claims) => {
    if (refuseAud && Object.hasOwn(claims, 'aud')) {
      throw new errors.JWTClaimValidationFailed(
        'unexpected "aud" claim value (no audience is configured)',
        claims,
        'aud',
        CHECK_FAILED,
      );
    }
    const iat = claims.iat;
    if (typeof iat !== 'number') return;
    const age = Math.floor(Date.now() / 1000) - iat;
    if (age < -tolerance) {
      throw new errors.JWTClaimValidationFailed(
        '"iat" claim timestamp check failed (it should be in the past)',
        claims,
        'iat',
        CHECK_FAILED,
      );
    }
    if (maxAge !== undefined && age - tolerance > maxAge) {
      throw new errors.JWTExpired(
        '"iat" claim timestamp check failed (too far in the past)',
        claims,
        'iat',
        CHECK_FAILED,
      );
    }
  };
}

/**
 * Freeze verified claims, nested objects and arrays included (an explicit stack: a token may nest
 * deeply). They are read-only by type; frozen, a mapping that writes to them fails the same way
 * on every verification instead of changing what the cache's next hit is checked against.
 */
export function freezeClaims(claims: JWTPayload): void {
  const stack: object[] = [claims];
  for (let o = stack.pop(); o !== undefined; o = stack.pop()) {
    if (Object.isFrozen(o)) continue;
    Object.freeze(o);
    for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) stack.push(v);
  }
}
