/**
 * The key every per-IP defence uses (connection rate, open-connection cap, penalty score, ban).
 *
 * An IPv4 address is one key: it is scarce, and many users behind one NAT already share it. An
 * IPv6 address is not: a host is handed a /64 or more (SLAAC, privacy extensions) and picks any
 * interface id in it at will, so keyed per /128 an attacker rotates addresses and every per-IP
 * defence sees a new client each time (2,000 forged tokens with no ban, no rate hit), while each
 * new address costs the store memory. Keyed per network prefix (default /64, the smallest subnet a
 * site gets), rotation inside it changes nothing.
 *
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) and the NAT64 well-known prefix (`64:ff9b::/96`, RFC 6052:
 * a translator in front of an IPv6-only server shows each IPv4 client as `64:ff9b::a.b.c.d`) key
 * as the IPv4 address inside: per /64, every IPv4 client of a translator would share one key, and
 * one client's forged tokens would ban them all. A spoofed `64:ff9b::` source cannot complete a TCP
 * handshake (the reply goes to the translator), so it names no one it could not reach.
 *
 * @module
 */
import { formatIp, parseIp } from '../core/ip-address.ts';

/** The IPv6 prefix length per-IP defences key on when none is configured. */
export const DEFAULT_IPV6_PREFIX = 64;

/**
 * The widest prefix allowed: a /32 is the smallest allocation a regional registry gives an ISP, so
 * a wider key would put every customer of an ISP (or several) under one key, and one customer's
 * violations would ban them all.
 */
const MIN_PREFIX = 32;
/** The narrowest: one address (rotating interface ids evade it; only where hosts cannot rotate). */
const MAX_PREFIX = 128;
/** The most characters of an unparsable input kept in its key. */
const MAX_OPAQUE = 64;

/**
 * The per-IP key of `ip`: a canonical IPv4 address unchanged (no allocation), any other spelling of
 * an IPv4 address (IPv4-mapped, NAT64 well-known prefix, brackets, whitespace) as the dotted quad,
 * other IPv6 as the canonical compressed form of its `/ipv6Prefix` network followed by the prefix
 * (`2001:db8:1:2::/64`), or the canonical address itself at 128.
 *
 * Total: it never throws. A network key with the same prefix comes back unchanged (so applying it
 * twice is harmless). Anything else is opaque: a name made of token characters (`unknown`, an
 * obfuscated `_id` from the proxy resolver) keys as itself, and other text as `?` and its first 64
 * characters. Neither form is ever the key of an address, so no input can reach another client's
 * state. A prefix the doctor would refuse is clamped into 32..128 (not a number: 64).
 *
 * @example
 * ```ts
 * ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64); // '2001:db8:1:2::/64'
 * ipKey('::ffff:203.0.113.9', 64); // '203.0.113.9'
 * ```
 */
export function ipKey(ip: string, ipv6Prefix: number): string {
  const b = parseIp(ip);
  if (b === undefined) return networkKey(ip, ipv6Prefix) ?? opaqueKey(ip);
  if (b.length === 4) {
    // parseIp takes only canonical dotted quads, so one without a colon, whitespace or bracket
    // around it is the input itself.
    const first = ip.charCodeAt(0);
    const last = ip.charCodeAt(ip.length - 1);
    if (first >= 48 && first <= 57 && last >= 48 && last <= 57 && ip.length <= 15) return ip;
    return formatIp(b);
  }
  if (isNat64(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const p = clampPrefix(ipv6Prefix);
  if (p === MAX_PREFIX) return formatIp(b);
  // Clear every bit past the prefix: whole bytes, then the partial one.
  const whole = p >> 3;
  const rest = p & 7;
  if (rest > 0) b[whole] = b[whole]! & ((0xff << (8 - rest)) & 0xff);
  for (let i = rest > 0 ? whole + 1 : whole; i < 16; i++) b[i] = 0;
  return `${formatIp(b)}/${p}`;
}

/**
 * Problems with an `ipv6Prefix` option, for the doctor: empty when it is unset or an integer in
 * 32..128. Below 32 a key spans an ISP's whole allocation (one customer bans them all); above 128
 * there are no bits. /64 suits most networks; /56 or /48 where an attacker may hold a site's
 * allocation, /128 only where hosts cannot choose their addresses.
 */
export function validateIpv6Prefix(value: unknown): string[] {
  if (value === undefined) return [];
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_PREFIX &&
    value <= MAX_PREFIX
  )
    return [];
  const shown =
    typeof value === 'number' ? String(value) : `a ${value === null ? 'null' : typeof value}`;
  return [
    `ipv6Prefix: ${shown} is not an integer in ${MIN_PREFIX}..${MAX_PREFIX}; per-IP limits, caps and bans key IPv6 clients per network of this size (default ${DEFAULT_IPV6_PREFIX}: rotating addresses inside a /64 must not make a new client; wider than /${MIN_PREFIX} would put a whole ISP under one key)`,
  ];
}

/** 64:ff9b::/96 (RFC 6052's well-known prefix): the last 32 bits are an IPv4 address. */
function isNat64(b: readonly number[]): boolean {
  if (b[0] !== 0 || b[1] !== 0x64 || b[2] !== 0xff || b[3] !== 0x9b) return false;
  for (let i = 4; i < 12; i++) if (b[i] !== 0) return false;
  return true;
}

function clampPrefix(p: number): number {
  if (p >= MIN_PREFIX && p <= MAX_PREFIX) return Math.floor(p);
  if (p < MIN_PREFIX) return MIN_PREFIX;
  if (p > MAX_PREFIX) return MAX_PREFIX;
  return DEFAULT_IPV6_PREFIX; // NaN
}

/** `address/prefix` with this key's own prefix (a key given back): the network's key; else none. */
function networkKey(s: string, ipv6Prefix: number): string | undefined {
  const slash = s.indexOf('/');
  if (slash < 0 || s.length > 50) return undefined;
  const p = clampPrefix(ipv6Prefix);
  if (s.slice(slash + 1) !== String(p)) return undefined;
  const b = parseIp(s.slice(0, slash));
  if (b === undefined || b.length !== 16 || isNat64(b) || p === MAX_PREFIX) return undefined;
  return ipKey(s.slice(0, slash), p);
}

/**
 * A bounded, stable key for text that is no address. It can never equal an address's key: a
 * token has no ':' (an IPv6 key has one) and is no dotted quad (it would have parsed); the rest
 * start with '?'. Already-opaque keys come back unchanged.
 */
function opaqueKey(s: string): string {
  if (s.length > 0 && s.length <= MAX_OPAQUE && isToken(s)) return s;
  if (s.charCodeAt(0) === 63 && s.length <= MAX_OPAQUE + 1) return s;
  return `?${s.slice(0, MAX_OPAQUE)}`;
}

/** Only `A-Z a-z 0-9 . _ -`. */
function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const l = c | 0x20;
    if (!((c >= 48 && c <= 57) || (l >= 97 && l <= 122) || c === 46 || c === 95 || c === 45))
      return false;
  }
  return true;
}
