/**
 * HS256/384/512 verification without a thread-pool job. jose checks an HMAC through Web Crypto's
 * `subtle.verify`, a job on the runtime's thread pool whose hand-off cost 0.2–0.45 ms of every JWT
 * handshake on a loaded Node server (docs/benchmarks.md); a synchronous `node:crypto` HMAC costs a
 * few microseconds.
 *
 * The header is parsed by jose (`decodeProtectedHeader`, once per distinct header text), the
 * signature is computed here, and the claims are checked by `jwt-claims.ts`, jose's claim checks
 * for the options the guard uses (`exp`, `nbf`, `iss`, `aud`, `typ`, required claims, clock
 * tolerance). The fast path takes only the plain case and answers `undefined` for everything
 * else, which then goes through `jwtVerify` as before:
 *
 * - three canonical base64url segments and nothing else (`jwt-canonical.ts`: no padding, no
 *   other character, no unused bit set), so a non-canonical header or payload the issuer signed
 *   is not taken either;
 * - a header whose `alg` is one of the pinned HS* algorithms, with no `crit` and no `b64`;
 * - a signature equal, character for character (compared in constant time), to the canonical
 *   base64url of the HMAC; a token with a wrong signature goes to `jwtVerify`, which refuses it.
 *
 * So this path accepts a token only if `jwtVerify` would accept it, and refuses one only with the
 * error `jwtVerify` would raise for its claims. `tests/unit/jwt-hmac.property.test.ts` checks that
 * equivalence on generated tokens, forged and malformed ones included. (The verifier refuses
 * non-canonical tokens before `jwtVerify`, and applies wsguard's claim policy after either path:
 * `jwt.ts`.)
 *
 * @module
 */
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { syncCrypto } from '../core/sync-crypto.ts';
import { isCanonicalCompact } from './jwt-canonical.ts';
import { type ClaimChecks, createClaimChecks } from './jwt-claims.ts';

/** Verify a token synchronously: its payload, a jose error thrown, or `undefined` to defer. */
export type HmacFastPath = (token: string) => JWTPayload | undefined;

const HASHES: Readonly<Record<string, string>> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
};
const encoder = new TextEncoder();

/** A header the fast path takes: the HMAC's hash and the header's `typ`. */
interface HeaderPlan {
  readonly hash: string;
  readonly typ: unknown;
}

/** Parse a header segment (with jose); `undefined` when the fast path must not take it. */
function planFor(segment: string, hashes: ReadonlyMap<string, string>): HeaderPlan | undefined {
  let header: Record<string, unknown>;
  try {
    // jose parses the header of a whole token; the segment alone, with empty payload and
    // signature, is parsed exactly the same way.
    header = decodeProtectedHeader(`${segment}..`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const alg = header.alg;
  const hash = typeof alg === 'string' ? hashes.get(alg) : undefined;
  // `crit` and `b64` change how a JWS is read; jose's own path handles (and refuses) them.
  if (hash === undefined || Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) {
    return undefined;
  }
  return { hash, typ: header.typ };
}

/**
 * The synchronous HS* check for `secret` over the pinned `algorithms`, or `undefined` where the
 * runtime has no `node:crypto` (callers then use `jwtVerify` alone).
 */
export function createHmacFastPath(
  secret: Uint8Array,
  algorithms: readonly string[],
  claims: ClaimChecks,
): HmacFastPath | undefined {
  const crypto = syncCrypto;
  const hashes = new Map(
    algorithms.filter((alg) => HASHES[alg] !== undefined).map((alg) => [alg, HASHES[alg]!]),
  );
  // An empty key would make every MAC computable by anyone: never take the fast path with one
  // (the doctor refuses short secrets; this guards against a caller that bypassed it).
  if (!crypto || hashes.size === 0 || !(secret instanceof Uint8Array) || secret.byteLength === 0)
    return undefined;
  // A private copy: a caller mutating its buffer later must not change the key.
  const key = secret.slice();
  const checkClaims = createClaimChecks(claims);

  // What a header segment means here, by its exact text: an issuer signs every token with the
  // same header, so it is parsed once, not per handshake. Bounded: cleared when full, and only
  // short segments are kept, so odd headers cannot grow it.
  const headers = new Map<string, HeaderPlan | undefined>();
  const plan = (segment: string): HeaderPlan | undefined => {
    if (headers.has(segment)) return headers.get(segment);
    const p = planFor(segment, hashes);
    if (segment.length <= 256) {
      if (headers.size >= 16) headers.clear();
      headers.set(segment, p);
    }
    return p;
  };

  return (token) => {
    if (typeof token !== 'string' || !isCanonicalCompact(token)) return undefined;
    const first = token.indexOf('.');
    const p = plan(token.slice(0, first));
    if (p === undefined) return undefined;
    const { hash, typ } = p;
    const dot = token.lastIndexOf('.');
    const expected = crypto
      .createHmac(hash, key)
      .update(token.slice(0, dot), 'latin1') // ASCII only (checked above): the same bytes
      .digest('base64url');
    const given = token.slice(dot + 1);
    if (
      given.length !== expected.length ||
      !crypto.timingSafeEqual(encoder.encode(given), encoder.encode(expected))
    ) {
      return undefined;
    }
    const payload = token.slice(first + 1, dot);
    // Throws jose's JWTExpired / JWTClaimValidationFailed / JWTInvalid, as `jwtVerify` would.
    return checkClaims(typ, payload);
  };
}
