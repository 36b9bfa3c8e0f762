/**
 * The local source addresses of `--source`, which spread probes so that later ones run unbanned.
 * A guarded server bans the address its attacks come from; Linux routes all of 127.0.0.0/8 to
 * `lo`, so loopback aliases give an audit fresh addresses.
 *
 * @module
 */
import { isIPv4 } from 'node:net';

/** The most addresses one `--source` may name. */
export const MAX_SOURCES = 256;

function toInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * Parse `127.0.0.2-127.0.0.40`, `127.0.0.2-40` or a comma list of addresses (ranges allowed in
 * the list). Throws a message naming the bad part.
 */
export function parseSources(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [from, toRaw] = part.split('-', 2) as [string, string | undefined];
    if (!isIPv4(from)) throw new Error(`--source: ${part} is not an IPv4 address or range`);
    if (toRaw === undefined) {
      out.push(from);
      continue;
    }
    const to = /^\d{1,3}$/.test(toRaw) ? from.replace(/\d+$/, toRaw) : toRaw;
    if (!isIPv4(to) || toInt(to) < toInt(from))
      throw new Error(`--source: ${part} is not a range from low to high`);
    for (let n = toInt(from); n <= toInt(to) && out.length <= MAX_SOURCES; n++) out.push(toIp(n));
  }
  if (out.length === 0) throw new Error('--source: no address given');
  if (out.length > MAX_SOURCES) throw new Error(`--source: at most ${MAX_SOURCES} addresses`);
  return out;
}
