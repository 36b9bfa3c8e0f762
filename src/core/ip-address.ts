/**
 * IP address text as bytes and back: one parser for every per-IP decision (the proxy walk, the
 * /64 key, the allowlist ranges), so one client has one spelling. Pure, runtime-free and
 * allocation-light: it runs per handshake.
 *
 * @module
 */

/** An address as 4 bytes (IPv4) or 16 (IPv6). */
export type Bytes = readonly number[];

/**
 * Dotted-quad IPv4 in `s[start, end)` (no leading zeros, each part 0–255) as 4 bytes, in one pass:
 * it runs per handshake.
 */
function parseIPv4(s: string, start: number, end: number): number[] | undefined {
  if (end - start < 7 || end - start > 15) return undefined;
  const out = [0, 0, 0, 0];
  let part = 0;
  let n = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c === 46) {
      if (digits === 0 || part === 4) return undefined;
      out[part++] = n;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && n === 0) return undefined; // leading zero: octal in some parsers
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

/** The value of a hex digit, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // ASCII lower case
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * IPv6 text in `s[start, end)` (no brackets, no zone) as 16 bytes, in one pass without regular
 * expressions or intermediate arrays. `::` stands for one zero group or more; a dotted-quad tail
 * takes the last two groups.
 */
function parseIPv6(s: string, start: number, end: number): number[] | undefined {
  if (end - start < 2 || end - start > 45) return undefined;
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0;
  let gap = -1;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return undefined;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return undefined;
    const groupStart = i;
    let value = 0;
    let digits = 0;
    for (let d = hexDigit(s.charCodeAt(i)); d >= 0 && i < end; d = hexDigit(s.charCodeAt(i))) {
      if (++digits > 4) return undefined;
      value = value * 16 + d;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 46) {
      // The dotted-quad tail: it must end the address and fill the last two groups.
      const v4 = n <= 6 ? parseIPv4(s, groupStart, end) : undefined;
      if (!v4) return undefined;
      groups[n++] = (v4[0]! << 8) | v4[1]!;
      groups[n++] = (v4[2]! << 8) | v4[3]!;
      break;
    }
    if (digits === 0) return undefined;
    groups[n++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = n;
      i++;
    } else if (i === end) {
      return undefined; // a single trailing ':'
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return undefined;
  const out = new Array<number>(16).fill(0);
  const fill = 8 - n;
  for (let g = 0; g < n; g++) {
    const at = gap >= 0 && g >= gap ? g + fill : g;
    out[2 * at] = groups[g]! >> 8;
    out[2 * at + 1] = groups[g]! & 0xff;
  }
  return out;
}

/**
 * An IP address as 4 bytes (IPv4) or 16 (IPv6), or `undefined`. Surrounding whitespace, brackets
 * and a zone id (`fe80::1%eth0`) are dropped, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is IPv4:
 * one address has one form, so a client cannot dodge a per-IP limit by spelling it differently.
 * Only canonical dotted quads are IPv4 (`010.0.0.1` is octal to some parsers, decimal to others).
 */
export function parseIp(input: string): number[] | undefined {
  let s = input;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  if (first <= 32 || first > 126 || last <= 32 || last > 126) s = s.trim();
  let start = 0;
  let end = s.length;
  if (s.charCodeAt(0) === 91 && s.charCodeAt(end - 1) === 93) {
    start = 1;
    end--;
  }
  const colon = s.indexOf(':', start);
  if (colon < 0 || colon >= end) return parseIPv4(s, start, end);
  const zone = s.indexOf('%', start);
  if (zone >= 0 && zone < end) end = zone;
  const b = parseIPv6(s, start, end);
  if (b === undefined) return undefined;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return b;
  return b[10] === 0xff && b[11] === 0xff ? b.slice(12) : b;
}

/** The canonical text of parsed bytes: a dotted quad, or RFC 5952 (lower case, `::`). */
export function formatIp(b: Bytes): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  // RFC 5952: the longest run (≥ 2) of zero groups becomes '::'; the first of equal runs wins.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (b[2 * i] !== 0 || b[2 * i + 1] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && b[2 * j] === 0 && b[2 * j + 1] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16);
  }
  return out;
}

/**
 * The canonical form of an IP address, or `undefined` when `input` is not one. Brackets and
 * zone ids are dropped; IPv4-mapped IPv6 becomes IPv4.
 */
export function canonicalIp(input: string): string | undefined {
  const b = parseIp(input);
  return b ? formatIp(b) : undefined;
}
