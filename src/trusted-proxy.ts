/**
 * Who the client is when a reverse proxy stands in front of the server. `X-Forwarded-For` and
 * `Forwarded` are written by whoever sends the request, so they are believed only when the direct
 * peer is a configured proxy, and only for the hops that trusted proxies appended: the list is
 * walked from the right, and the first address that is not a trusted proxy is the client.
 *
 * Addresses are canonicalised (IPv4-mapped IPv6 to IPv4, IPv6 to its RFC 5952 form), so one client
 * cannot dodge a per-IP limit by spelling its address differently.
 *
 * @module
 */

/** The client as the adapter resolved it. */
export interface ClientAddress {
  /** Client IP, canonical form. */
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

type Bytes = readonly number[];
interface Range {
  readonly bytes: Bytes;
  readonly bits: number;
}

/** Dotted-quad IPv4 (no leading zeros, each part 0–255) as 4 bytes, in one pass: it runs per handshake. */
function parseIPv4(s: string): number[] | undefined {
  if (s.length < 7 || s.length > 15) return undefined;
  const out: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c === 46) {
      if (digits === 0 || out.length === 4) return undefined;
      out.push(n);
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
  return out.length === 4 ? out : undefined;
}

function parseIPv6(input: string): number[] | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    s = `${s.slice(0, lastColon + 1)}0`; // placeholder hextet, dropped below
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string | undefined): number[] | undefined => {
    if (h === undefined || h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  if (!head || !rest) return undefined;
  if (tail.length) (rest.length ? rest : head).pop();
  const want = 8 - tail.length / 2;
  const fill = want - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const hextets = [...head, ...new Array<number>(fill).fill(0), ...rest];
  const bytes = hextets.flatMap((h) => [h >> 8, h & 0xff]);
  return [...bytes, ...tail];
}

/** IPv4 as 4 bytes or IPv6 as 16; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4. */
function parseIp(input: string): number[] | undefined {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (!s.includes(':')) return parseIPv4(s);
  const b = parseIPv6(s);
  if (b?.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  return b;
}

function format(b: Bytes): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const h: number[] = [];
  for (let i = 0; i < 16; i += 2) h.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952: the longest run (≥ 2) of zero groups becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (h[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && h[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = h.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * The canonical form of an IP address, or `undefined` when `input` is not one. Brackets and
 * zone ids are dropped; IPv4-mapped IPv6 becomes IPv4.
 */
export function canonicalIp(input: string): string | undefined {
  const b = parseIp(input);
  return b ? format(b) : undefined;
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

/** One element of `Forwarded` (RFC 7239): its `for` node and `proto`. */
function parseForwarded(value: string): { for: string; proto: string | undefined }[] {
  const out: { for: string; proto: string | undefined }[] = [];
  for (const element of value.split(',').slice(-MAX_HOPS)) {
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
    out.push({ for: node, proto });
  }
  return out;
}

/** Strip a port from a forwarded node (`1.2.3.4:80`, `[::1]:80`); IPv6 without brackets stays. */
function nodeIp(node: string): string {
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    return end < 0 ? node : node.slice(1, end);
  }
  const colon = node.indexOf(':');
  return colon >= 0 && colon === node.lastIndexOf(':') ? node.slice(0, colon) : node;
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
    const direct = { ip: peer ? format(peer) : peerIp, secure };
    if (ranges.length === 0 || !trusted(peer)) return direct;
    const hops: { ip: string; proto: string | undefined }[] = [];
    if (header === 'forwarded') {
      const value = headers.get('forwarded');
      if (value === null) return direct;
      for (const e of parseForwarded(value)) hops.push({ ip: nodeIp(e.for), proto: e.proto });
    } else {
      const value = headers.get('x-forwarded-for');
      if (value === null) {
        // A trusted proxy that does not forward addresses may still report the scheme.
        const proto = headers.get('x-forwarded-proto');
        return { ip: direct.ip, secure: secure || proto?.trim().toLowerCase() === 'https' };
      }
      const ips = value.split(',').slice(-MAX_HOPS);
      const protos = (headers.get('x-forwarded-proto') ?? '').split(',').map((p) => p.trim());
      // Protos are believed per hop only when the proxies appended one per address; otherwise
      // the connection counts as secure only if every reported hop was https.
      const aligned = protos.length === ips.length;
      const allHttps = protos.every((p) => p.toLowerCase() === 'https');
      for (const [i, ip] of ips.entries())
        hops.push({
          ip: ip.trim(),
          proto: aligned ? protos[i]!.toLowerCase() : allHttps ? 'https' : 'http',
        });
    }
    // Walk right to left: every hop a trusted proxy appended is believed; the first address that
    // is not a trusted proxy is the client. An unparsable entry ends the walk at the last proxy.
    let client = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      const b = parseIp(hop.ip);
      if (!b) break;
      client = { ip: format(b), secure: hop.proto === 'https' };
      if (!trusted(b)) break;
    }
    return client;
  };

  return { trusts: (ip) => trusted(parseIp(ip)), resolve };
}
