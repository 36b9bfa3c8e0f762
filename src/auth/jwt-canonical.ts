/**
 * One token, one spelling: the JWS compact serialization in its canonical form only. RFC 7515
 * §2 and §7.1 define each segment as base64url *without padding*; jose decodes leniently (padding,
 * ASCII whitespace, non-zero unused bits in the last character), so without this check several
 * strings verify as the same token, and anything keyed on the token's text (replay caches, deny
 * lists, audit correlation) sees different tokens where there is one.
 *
 * Canonical here means, for each of the three segments: non-empty; only `A–Z a–z 0–9 - _`;
 * a length that is not 1 modulo 4 (no encoding ends there); and the unused low bits of the last
 * character zero (4 bits when the length is 2 modulo 4, 2 bits when it is 3). Such a segment is
 * exactly what encoding its decoded bytes gives back: decoding is then a bijection.
 *
 * @module
 */

/** Three non-empty segments of the base64url alphabet. Linear: no class contains the separator. */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The 6-bit value of each base64url character, by char code (only read for checked characters). */
const SEXTET = new Uint8Array(128);
for (const [i, c] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
].entries())
  SEXTET[c.charCodeAt(0)] = i;

/**
 * Whether `text[start, end)`, already known to hold only base64url characters, ends canonically:
 * a length with a decoding, and no bits set that the decoding would drop.
 */
function canonicalEnd(text: string, start: number, end: number): boolean {
  const rest = (end - start) % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = SEXTET[text.charCodeAt(end - 1)]!;
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

/**
 * Whether `token` is a JWS in compact serialization with three canonical, unpadded base64url
 * segments (see the module comment). Constant work beyond one linear regular-expression test.
 */
export function isCanonicalCompact(token: string): boolean {
  if (typeof token !== 'string' || !COMPACT.test(token)) return false;
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  return (
    canonicalEnd(token, 0, first) &&
    canonicalEnd(token, first + 1, last) &&
    canonicalEnd(token, last + 1, token.length)
  );
}
