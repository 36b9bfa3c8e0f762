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

import { type Bytes, formatIp, parseIp } from '../core/ip-address.ts';

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

interface Range {
  readonly bytes: Bytes;
  readonly bits: number;
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
