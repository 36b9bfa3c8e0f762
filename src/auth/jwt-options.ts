/**
 * The JWT options and the check that refuses unsafe or malformed ones before a verifier exists:
 * `algorithms` pinned, exactly one key source, an HMAC secret of at least 32 bytes that is not a
 * PEM or JWK key, HMAC and public-key algorithms never mixed, `none` in no casing.
 *
 * @module
 */

import { secretBytes } from './jwt-secret.ts';
import type { Principal } from './principal.ts';

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
  /**
   * How many verified tokens to remember by their exact text (from a text's second
   * verification on), so that a client reconnecting with the same token skips its decoding and
   * signature (a few µs for HS*, tens to hundreds of µs for RS/ES/PS). Every hit runs the clock
   * checks again (`exp`, `nbf`, `iat`, `maxTokenAgeSec`); only verified texts are kept; the
   * oldest entry goes first; texts over 4,096 characters are never kept. With a remote `jwks`, a
   * hit counts only while jose's copy of the set is fresh and the one the token was verified
   * under: each reload jose applies (a new `kid`, the set's max age) forgets them all. The
   * `principal` mapping runs on every verification, hit or not (a deny-list there still holds);
   * the claims it is handed are frozen, on every verification alike.
   * `false` (or 0): verify every time.
   * @default 1000
   */
  readonly cache?: number | false;
  /** Map verified claims to a principal. @default principalFromClaims */
  readonly principal?: (claims: Readonly<Record<string, unknown>>) => Principal | undefined;
}

const HMAC = new Set(['HS256', 'HS384', 'HS512']);
const MIN_SECRET_BYTES = 32;

/** The numeric and boolean settings: tolerance, age bound, cache size, flags. */
function settingProblems(options: JwtOptions): string[] {
  const problems: string[] = [];
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
  const cache = options.cache as unknown;
  if (
    cache !== undefined &&
    cache !== false &&
    !(typeof cache === 'number' && Number.isInteger(cache) && cache >= 0)
  )
    problems.push('jwt.cache: a whole number of tokens to remember (0 or more), or false');
  for (const flag of ['allowAnyAudience', 'requireIat'] as const) {
    const value = options[flag] as unknown;
    if (value !== undefined && typeof value !== 'boolean')
      problems.push(`jwt.${flag}: true or false`);
  }
  return problems;
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
  if (sources === 0 && hmac.length > 0 && 'secret' in options) {
    // `secret: process.env.JWT_SECRET!` with the variable unset: name that, not the API rule.
    problems.push(
      'jwt.secret is undefined: the environment variable it is read from is probably not set (e.g. JWT_SECRET: 32 or more random bytes)',
    );
  } else if (sources !== 1) problems.push('jwt: give exactly one of secret, publicKey or jwks');
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
  problems.push(...settingProblems(options));
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
