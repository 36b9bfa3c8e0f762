/**
 * PLACEHOLDER (the lead's stub until the real module lands): the key every per-IP defence uses.
 *
 * @module
 */

/** Map an address to its per-IP key: IPv4 whole, IPv6 by its `/prefix` network. */
export function ipKey(ip: string, ipv6Prefix: number): string {
  if (!ip.includes(':')) return ip;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.slice(7).includes('.')) return lower.slice(7);
  const [head = '', tail = ''] = lower.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = lower.includes('::')
    ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
    : h;
  if (groups.length !== 8) return ip.slice(0, 64);
  const words = groups.map((g) => Number.parseInt(g, 16) || 0);
  let bits = ipv6Prefix;
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits));
    words[i] = keep === 0 ? 0 : words[i]! & (0xffff << (16 - keep)) & 0xffff;
    bits -= 16;
  }
  return `${words.map((w) => w.toString(16)).join(':')}/${ipv6Prefix}`;
}
