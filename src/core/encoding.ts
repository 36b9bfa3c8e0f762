/**
 * Small Web-standard helpers: random ids, base64url, SHA-256 hex. Kept here so no module reaches
 * for a runtime's own crypto; {@link sha256Hex} hashes synchronously where the runtime offers
 * `node:crypto` (see `sync-crypto.ts`), and with Web Crypto everywhere else, with the same result.
 *
 * @module
 */
import { syncCrypto } from './sync-crypto.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/** `bytes` cryptographically random bytes as base64url. */
export function randomToken(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

const ID_BYTES = 12;
/** The base64url alphabet as character codes, for {@link randomId}. */
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** Random bytes for 256 ids, drawn in one call: `getRandomValues` per id cost ~20 µs a handshake. */
const POOL_BYTES = ID_BYTES * 256;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * A short random id (96 bits) for connections and leases. The bytes come from a pool refilled
 * by `crypto.getRandomValues` (the same CSPRNG, fewer calls); each byte is used once. Ids are
 * not secrets (they appear in audit events); tokens ({@link randomToken}) never use the pool.
 */
export function randomId(): string {
  if (poolOffset + ID_BYTES > POOL_BYTES) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  // The 16 characters in one `fromCharCode`: a flat 32 B string. Built with `+=` (as `base64url`
  // does) it was a cons string over two halves, 88 B kept by every connection and lease.
  const b = pool;
  const o = poolOffset;
  poolOffset += ID_BYTES;
  const n0 = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  const n1 = (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!;
  const n2 = (b[o + 6]! << 16) | (b[o + 7]! << 8) | b[o + 8]!;
  const n3 = (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!;
  return String.fromCharCode(
    CODES[n0 >> 18]!,
    CODES[(n0 >> 12) & 63]!,
    CODES[(n0 >> 6) & 63]!,
    CODES[n0 & 63]!,
    CODES[n1 >> 18]!,
    CODES[(n1 >> 12) & 63]!,
    CODES[(n1 >> 6) & 63]!,
    CODES[n1 & 63]!,
    CODES[n2 >> 18]!,
    CODES[(n2 >> 12) & 63]!,
    CODES[(n2 >> 6) & 63]!,
    CODES[n2 & 63]!,
    CODES[n3 >> 18]!,
    CODES[(n3 >> 12) & 63]!,
    CODES[(n3 >> 6) & 63]!,
    CODES[n3 & 63]!,
  );
}

/**
 * SHA-256 of a string (UTF-8), as lower-case hex. Synchronous `node:crypto` where available (a
 * Web Crypto digest is a job on the runtime's thread pool, ~0.1 ms a ticket redemption under
 * load), Web Crypto otherwise; both hash the same UTF-8 bytes (lone surrogates become U+FFFD).
 */
export async function sha256Hex(text: string): Promise<string> {
  return sha256HexSync(text) ?? sha256HexWeb(text);
}

/**
 * {@link sha256Hex} without a promise where the runtime hashes synchronously; `undefined` where it
 * does not (the caller then takes the Web Crypto path).
 */
export function sha256HexSync(text: string): string | undefined {
  if (!syncCrypto) return undefined;
  return syncCrypto.hash
    ? syncCrypto.hash('sha256', text, 'hex')
    : syncCrypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 hex through Web Crypto only (the fallback of {@link sha256Hex}). */
export async function sha256HexWeb(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)),
  );
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * The longest prefix of `text`, in whole characters, whose UTF-8 fits in `maxBytes`: `text`
 * itself when it fits. For close reasons (123 bytes at most): a cut inside a character would
 * decode to a replacement character, three bytes of its own.
 */
export function utf8Prefix(text: string, maxBytes: number): string {
  // Each UTF-16 unit is at most 3 bytes: short enough strings need no encoding at all.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // Back off the continuation bytes (10xxxxxx) of a character the bound cuts through.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
