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
 * The MAC is RFC 2104's `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))` with the pads computed once per key,
 * by two one-shot `hash` calls where the runtime has them (checked against `createHmac` when the
 * path is built): a `createHmac` per token builds a stream object and prepares the key again
 * (with the two encodings the old comparison made, `guard.verifyToken` took 12.6 µs against 8.0
 * now; docs/benchmarks.md, "Handshake CPU on Node, round 2"). The signature text is compared in
 * constant time in JavaScript (no encoding of both strings per token).
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
import { type SyncCrypto, syncCrypto } from '../core/sync-crypto.ts';
import { isCanonicalCompact } from './jwt-canonical.ts';
import { type ClaimChecks, createClaimChecks } from './jwt-claims.ts';

/** Verify a token synchronously: its payload, a jose error thrown, or `undefined` to defer. */
export type HmacFastPath = (token: string) => JWTPayload | undefined;

const HASHES: Readonly<Record<string, string>> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
};
/** Block size in bytes of each hash (RFC 2104's B): 64 for SHA-256, 128 for SHA-384/512. */
const BLOCK: Readonly<Record<string, number>> = { sha256: 64, sha384: 128, sha512: 128 };
const encoder = new TextEncoder();

/** `node:crypto`'s one-shot `hash` on bytes, where the runtime has it (Node ≥ 20.12, Bun, Deno). */
type OneShot = {
  (algorithm: string, data: Uint8Array, encoding: 'buffer'): Uint8Array;
  (algorithm: string, data: Uint8Array, encoding: 'base64url'): string;
};

/** An HMAC of ASCII text under one key and hash, as unpadded base64url. */
type Mac = (ascii: string) => string;

/**
 * The MAC of `hash` under `key` from two one-shot hashes over precomputed pads, or `undefined`
 * when the runtime has no one-shot `hash` over bytes or it disagrees with `createHmac` on a
 * probe (then the caller keeps `createHmac`).
 */
function padMac(crypto: SyncCrypto, hash: string, key: Uint8Array): Mac | undefined {
  const oneShot = (crypto as { hash?: unknown }).hash as OneShot | undefined;
  const block = BLOCK[hash];
  if (typeof oneShot !== 'function' || block === undefined) return undefined;
  try {
    // A key longer than a block is hashed first (RFC 2104 §2); shorter ones are zero-padded.
    const k = key.byteLength > block ? oneShot(hash, key, 'buffer') : key;
    const ipad = new Uint8Array(block);
    const outer = new Uint8Array(block + (hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64));
    for (let i = 0; i < block; i++) {
      ipad[i] = (k[i] ?? 0) ^ 0x36;
      outer[i] = (k[i] ?? 0) ^ 0x5c;
    }
    // One scratch buffer for the inner input, grown as needed: the MAC runs synchronously, so
    // no two calls share it at once.
    let inner = new Uint8Array(block + 512);
    inner.set(ipad);
    const mac: Mac = (ascii) => {
      const end = block + ascii.length;
      if (inner.length < end) {
        inner = new Uint8Array(end * 2);
        inner.set(ipad);
      }
      encoder.encodeInto(ascii, inner.subarray(block, end));
      outer.set(oneShot(hash, inner.subarray(0, end), 'buffer'), block);
      return oneShot(hash, outer, 'base64url');
    };
    const probe = 'wsguard.hmac-probe.0123456789';
    const expected = crypto.createHmac(hash, key).update(probe, 'latin1').digest('base64url');
    return mac(probe) === expected ? mac : undefined;
  } catch {
    return undefined;
  }
}

/** The MAC of `hash` under `key`: {@link padMac} where it works, else a `createHmac` per call. */
function macFor(crypto: SyncCrypto, hash: string, key: Uint8Array): Mac {
  return (
    padMac(crypto, hash, key) ??
    ((ascii) => crypto.createHmac(hash, key).update(ascii, 'latin1').digest('base64url'))
  );
}

/**
 * Whether two strings are equal, in time that depends on their length only (the lengths are not
 * secret: every signature of one algorithm has the same length).
 */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A header the fast path takes: the MAC of its algorithm and the header's `typ`. */
interface HeaderPlan {
  readonly mac: Mac;
  readonly typ: unknown;
}

/** Parse a header segment (with jose); `undefined` when the fast path must not take it. */
function planFor(segment: string, macs: ReadonlyMap<string, Mac>): HeaderPlan | undefined {
  let header: Record<string, unknown>;
  try {
    // jose parses the header of a whole token; the segment alone, with empty payload and
    // signature, is parsed exactly the same way.
    header = decodeProtectedHeader(`${segment}..`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const alg = header.alg;
  const mac = typeof alg === 'string' ? macs.get(alg) : undefined;
  // `crit` and `b64` change how a JWS is read; jose's own path handles (and refuses) them.
  if (mac === undefined || Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) {
    return undefined;
  }
  return { mac, typ: header.typ };
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
  // One MAC per pinned algorithm (pads computed here, once per key).
  const macs = new Map([...hashes].map(([alg, hash]) => [alg, macFor(crypto, hash, key)]));

  // What a header segment means here, by its exact text: an issuer signs every token with the
  // same header, so it is parsed once, not per handshake. Bounded: cleared when full, and only
  // short segments are kept, so odd headers cannot grow it.
  const headers = new Map<string, HeaderPlan | undefined>();
  const plan = (segment: string): HeaderPlan | undefined => {
    if (headers.has(segment)) return headers.get(segment);
    const p = planFor(segment, macs);
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
    const dot = token.lastIndexOf('.');
    // The signing input is ASCII only (checked above): its text is its bytes.
    if (!sameText(token.slice(dot + 1), p.mac(token.slice(0, dot)))) return undefined;
    const payload = token.slice(first + 1, dot);
    // Throws jose's JWTExpired / JWTClaimValidationFailed / JWTInvalid, as `jwtVerify` would.
    return checkClaims(p.typ, payload);
  };
}
