/**
 * Who the client is when a reverse proxy stands in front of the server. `X-Forwarded-For` and
 * `Forwarded` are written by whoever sends the request, so they are believed only when the direct
 * peer is a configured proxy, and only for the hops that trusted proxies appended: the list is
 * walked from the right, and the first address that is not a trusted proxy is the client.
 *
 * Addresses are canonicalised (IPv4-mapped IPv6 to IPv4, IPv6 to its RFC 5952 form), so one client
 * cannot dodge a per-IP limit by spelling its address differently. Ports are stripped in both
 * headers. An entry that names no address (`unknown`, an obfuscated `_id`, garbage, a chain longer
 * than the hops read) resolves to an opaque name, never to the proxy that wrote it: the proxy's
 * address is every client's behind it, and one client's forged tokens would ban them all.
 *
 * @module
 */

/** The client as the adapter resolved it. */
export interface ClientAddress {
  /**
   * Client IP, canonical form; or, when a trusted proxy named no address, an opaque name: an
   * RFC 7239 obfuscated identifier (`_` and `A-Za-z0-9._-`, at most 64 characters) as the proxy
   * wrote it, else {@link UNKNOWN_CLIENT}. Neither is ever a canonical address.
   */
  readonly ip: string;
  /** Whether the client used TLS (to us, or to a trusted proxy that says so). */
  readonly secure: boolean;
}

/** Which forwarding header a trusted proxy writes. Only one is read: see {@link ProxyTrustOptions}. */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

/** Options for {@link createProxyTrust}. */
export interface ProxyTrustOptions {
  /**
   * Proxies whose forwarding headers are believed: IPs or CIDRs (`10.0.0.0/8`, `fd00::/8`), or
   * `loopback` for 127.0.0.0/8 and ::1.
   * @default []
   */
  readonly trustProxy?: readonly string[];
  /**
   * The header the proxies write. Only one is read, because a proxy that appends to one passes a
   * client-written copy of the other through untouched, and reading both would let the client
   * choose its own address. `x-forwarded-for` pairs with `X-Forwarded-Proto`; `forwarded` uses the
   * element's `proto=`.
   * @default 'x-forwarded-for'
   */
  readonly forwardedHeader?: ForwardedHeader;
}

/** The compiled trust list. */
export interface ProxyTrust {
  /** Whether `ip` is a trusted proxy. */
  trusts(ip: string): boolean;
  /**
   * The client behind the direct peer `peerIp`: the peer itself unless it is a trusted proxy.
   * `secure` is whether the connection to us used TLS.
   */
  resolve(peerIp: string, secure: boolean, headers: Headers): ClientAddress;
}

/** Forwarding hops read at most; a longer chain is cut on the left (the client-written end). */
const MAX_HOPS = 32;

/**
 * The client a trusted proxy reported but did not name: `unknown`, an entry that is no address,
 * a `Forwarded` element without `for`, or a chain of proxies longer than the hops read. It is
 * never the proxy's own address: that would put every client behind the proxy under one key, and
 * one client's violations would ban them all.
 */
export const UNKNOWN_CLIENT = 'unknown';

/** Longest obfuscated identifier (RFC 7239 `_token`) answered as itself; longer: unknown. */
const MAX_OBFUSCATED = 64;

type Bytes = readonly number[];
interface Range {
  readonly bytes: Bytes;
  readonly bits: number;
}

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

function parseRange(entry: string): Range[] {
  if (entry === 'loopback')
    return [
      { bytes: [127, 0, 0, 0], bits: 8 },
      { bytes: [...new Array<number>(15).fill(0), 1], bits: 128 },
    ];
  const slash = entry.indexOf('/');
  const bytes = parseIp(slash < 0 ? entry : entry.slice(0, slash));
  const max = bytes ? bytes.length * 8 : 0;
  const bits = slash < 0 ? max : Number(entry.slice(slash + 1));
  if (!bytes || !Number.isInteger(bits) || bits < 0 || bits > max || /\/\D/.test(entry))
    throw new TypeError(`trustProxy: "${entry}" is not an IP address, a CIDR range or 'loopback'`);
  return [{ bytes, bits }];
}

function inRange(ip: Bytes, r: Range): boolean {
  if (ip.length !== r.bytes.length) return false;
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * The last `max` comma-separated entries of `value`, leftmost first, and whether more were left:
 * read from the right with `lastIndexOf`, so a hostile 16 KiB header costs what 32 entries cost.
 */
function lastEntries(value: string, max: number): { entries: string[]; cut: boolean } {
  const entries: string[] = [];
  let end = value.length;
  while (entries.length < max) {
    const comma = end > 0 ? value.lastIndexOf(',', end - 1) : -1;
    entries.push(value.slice(comma + 1, end));
    if (comma < 0) return { entries: entries.reverse(), cut: false };
    end = comma;
  }
  return { entries: entries.reverse(), cut: true };
}

/**
 * How many comma-separated entries `value` holds, counting no further than `max` (callers only ask
 * whether it equals a small number), without splitting it.
 */
function countEntries(value: string, max: number): number {
  let n = 1;
  for (let i = value.indexOf(','); i >= 0 && n < max; i = value.indexOf(',', i + 1)) n++;
  return n;
}

function isBlank(value: string): boolean {
  return value.trim() === '';
}

/** One forwarding hop: the node text as written, and the scheme it reports. */
interface Hop {
  readonly node: string;
  readonly proto: string | undefined;
}

/** One element of `Forwarded` (RFC 7239): its `for` node and `proto`. */
function parseForwardedElement(element: string): Hop {
  let node = '';
  let proto: string | undefined;
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (key === 'for') node = v;
    else if (key === 'proto') proto = v.toLowerCase();
  }
  return { node, proto };
}

/** Whether `s[start, end)` is one or more RFC 7239 token characters (`A-Z a-z 0-9 . _ -`). */
function isTokenRange(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122);
    if (!alnum && c !== 46 && c !== 95 && c !== 45) return false;
  }
  return true;
}

/** An RFC 7239 obfuscated identifier (`_` and token characters), bounded in length. */
function isObfuscated(s: string): boolean {
  return s.length <= MAX_OBFUSCATED && s.charCodeAt(0) === 95 && isTokenRange(s, 1, s.length);
}

/** A node's port: 0–65535 in at most five digits, or an obfuscated port (`_abc`). */
function isPort(s: string): boolean {
  if (isObfuscated(s)) return true;
  if (s.length === 0 || s.length > 5) return false;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    n = n * 10 + (c - 48);
  }
  return n <= 65535;
}

/**
 * What one forwarding entry names: the address's bytes, or an opaque client name (an obfuscated
 * identifier as itself, anything else {@link UNKNOWN_CLIENT}). Ports are stripped in both headers
 * (`1.2.3.4:80`, `[2001:db8::1]:443`, `_host:_port`); IPv6 without brackets has no port (its last
 * group could be either), as RFC 7239 requires brackets for it.
 */
function nodeAddress(raw: string): number[] | string {
  const node = raw.trim();
  let host = node;
  if (node.charCodeAt(0) === 91) {
    const close = node.indexOf(']');
    if (close < 0) return UNKNOWN_CLIENT;
    host = node.slice(1, close);
    if (
      close + 1 < node.length &&
      (node.charCodeAt(close + 1) !== 58 || !isPort(node.slice(close + 2)))
    )
      return UNKNOWN_CLIENT;
  } else {
    const colon = node.indexOf(':');
    if (colon >= 0 && colon === node.lastIndexOf(':')) {
      if (!isPort(node.slice(colon + 1))) return UNKNOWN_CLIENT;
      host = node.slice(0, colon);
    }
  }
  const b = parseIp(host);
  if (b) return b;
  return isObfuscated(host) ? host : UNKNOWN_CLIENT;
}

/**
 * Compile a trust list. Throws `TypeError` for an entry that is not an IP, CIDR or `loopback`.
 *
 * @example
 * ```ts
 * const trust = createProxyTrust({ trustProxy: ['10.0.0.0/8'] });
 * trust.resolve('10.0.0.5', false, request.headers); // the client behind the load balancer
 * ```
 */
export function createProxyTrust(options: ProxyTrustOptions = {}): ProxyTrust {
  const ranges = (options.trustProxy ?? []).flatMap(parseRange);
  const header = options.forwardedHeader ?? 'x-forwarded-for';
  const trusted = (b: Bytes | undefined): boolean =>
    b !== undefined && ranges.some((r) => inRange(b, r));

  const resolve = (peerIp: string, secure: boolean, headers: Headers): ClientAddress => {
    const peer = parseIp(peerIp);
    const direct = { ip: peer ? formatIp(peer) : peerIp, secure };
    if (ranges.length === 0 || !trusted(peer)) return direct;
    let hops: Hop[];
    let cut: boolean;
    if (header === 'forwarded') {
      const value = headers.get('forwarded');
      // No header (or an empty one): the request came from the proxy itself.
      if (value === null || isBlank(value)) return direct;
      const last = lastEntries(value, MAX_HOPS);
      hops = last.entries.map((e) => parseForwardedElement(e));
      cut = last.cut;
    } else {
      const value = headers.get('x-forwarded-for');
      if (value === null || isBlank(value)) {
        // A trusted proxy that does not forward addresses may still report the scheme.
        const proto = headers.get('x-forwarded-proto');
        return { ip: direct.ip, secure: secure || proto?.trim().toLowerCase() === 'https' };
      }
      const last = lastEntries(value, MAX_HOPS);
      cut = last.cut;
      const protos = (headers.get('x-forwarded-proto') ?? '').split(',').map((p) => p.trim());
      // Protos are believed per hop only when the proxies appended one per address (counted
      // from the right, past any cut); otherwise the connection counts as secure only if every
      // reported hop was https.
      const offset = protos.length - countEntries(value, protos.length + 1);
      const allHttps = protos.every((p) => p.toLowerCase() === 'https');
      const n = last.entries.length;
      hops = last.entries.map((node, i) => ({
        node,
        proto:
          offset === 0 ? protos[protos.length - n + i]!.toLowerCase() : allHttps ? 'https' : 'http',
      }));
    }
    // Walk right to left: every hop a trusted proxy appended is believed; the first address that
    // is not a trusted proxy is the client. An entry that names no address is what the last proxy
    // said about its client (`unknown`, an obfuscated id, garbage): the client is that name, never
    // the proxy, whose address is shared by every client behind it.
    let client: ClientAddress = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      const hopSecure = hop.proto === 'https';
      const b = nodeAddress(hop.node);
      if (typeof b === 'string') return { ip: b, secure: hopSecure };
      client = { ip: formatIp(b), secure: hopSecure };
      if (!trusted(b)) return client;
    }
    // Every hop read was a trusted proxy. Uncut, the chain began at its leftmost proxy (a health
    // check, a proxy's own request); cut, the client lies beyond the hops read.
    return cut ? { ip: UNKNOWN_CLIENT, secure: client.secure } : client;
  };

  return { trusts: (ip) => trusted(parseIp(ip)), resolve };
}
