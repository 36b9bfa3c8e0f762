/** Client addresses behind proxies: forwarding headers are believed only from trusted peers. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../src/core/ip-address.ts';
import { createProxyTrust } from '../../src/handshake/trusted-proxy.ts';

const h = (init: Record<string, string>) => new Headers(init);

describe('canonicalIp', () => {
  it('canonicalises IPv4, IPv6 and IPv4-mapped IPv6', () => {
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(canonicalIp('[::1]')).toBe('::1');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('0:0:0:0:0:0:0:0')).toBe('::');
    expect(canonicalIp('0.0.0.0')).toBe('0.0.0.0');
    expect(canonicalIp('255.255.255.255')).toBe('255.255.255.255');
    expect(canonicalIp(' 10.20.30.40 ')).toBe('10.20.30.40');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it('agrees with a reference dotted-quad grammar on generated strings', () => {
    // The grammar the one-pass parser implements: four decimal parts 0–255, no leading zeros.
    const part = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
    const reference = new RegExp(`^${part}\\.${part}\\.${part}\\.${part}$`);
    const alphabet = '0123456789..';
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 20_000; i++) {
      let s = '';
      const length = 1 + (random() % 16);
      for (let j = 0; j < length; j++) s += alphabet[random() % alphabet.length];
      const want = reference.test(s) ? s : undefined;
      expect(canonicalIp(s), s).toBe(want);
    }
  });

  it('refuses what is not an address', () => {
    for (const bad of [
      '',
      'unknown',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.00',
      '1..2.3',
      '.1.2.3',
      '1.2.3.',
      '1.2.3.4a',
      '1.2.3.1000',
      '1::2::3',
      ':::',
      'a'.repeat(60),
    ])
      expect(canonicalIp(bad), bad).toBeUndefined();
  });
});

describe('createProxyTrust', () => {
  const trust = createProxyTrust({ trustProxy: ['10.0.0.0/8', 'fd00::/8', 'loopback'] });

  it('ignores forwarding headers from an untrusted peer', () => {
    const headers = h({ 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
    expect(trust.resolve('198.51.100.1', false, headers)).toEqual({
      ip: '198.51.100.1',
      secure: false,
    });
  });

  it('takes the first untrusted hop from the right', () => {
    const headers = h({ 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3' });
    expect(trust.resolve('10.0.0.1', false, headers).ip).toBe('203.0.113.9');
  });

  it('canonicalises the peer and the hops (IPv4-mapped peer, IPv6 hop)', () => {
    const headers = h({ 'x-forwarded-for': '2001:DB8::0:1' });
    expect(trust.resolve('::ffff:10.0.0.1', false, headers).ip).toBe('2001:db8::1');
  });

  it('believes X-Forwarded-Proto per hop only when aligned, else only if every hop says https', () => {
    const aligned = h({
      'x-forwarded-for': '6.6.6.6, 203.0.113.9',
      'x-forwarded-proto': 'https, http',
    });
    expect(trust.resolve('10.0.0.1', false, aligned)).toEqual({ ip: '203.0.113.9', secure: false });
    const appended = h({ 'x-forwarded-for': '6.6.6.6, 203.0.113.9', 'x-forwarded-proto': 'https' });
    expect(trust.resolve('10.0.0.1', false, appended).secure).toBe(true);
    const mixed = h({
      'x-forwarded-for': '6.6.6.6, 203.0.113.9',
      'x-forwarded-proto': 'https,http,https',
    });
    expect(trust.resolve('10.0.0.1', false, mixed).secure).toBe(false);
  });

  it('reads the scheme of a trusted proxy that forwards no address', () => {
    expect(trust.resolve('127.0.0.1', false, h({ 'x-forwarded-proto': 'https' }))).toEqual({
      ip: '127.0.0.1',
      secure: true,
    });
  });

  it('answers unknown for an unparsable hop, never the proxy that wrote it', () => {
    // 10.9.9.9 is a trusted proxy, so "garbage" is what it said about its client: answering
    // 10.9.9.9 would put every client of that proxy under one key (one attacker bans them all).
    const headers = h({ 'x-forwarded-for': 'garbage, 10.9.9.9' });
    expect(trust.resolve('10.0.0.1', false, headers).ip).toBe('unknown');
  });

  it('reads only the configured header: Forwarded is ignored by default, used when chosen', () => {
    const headers = h({
      forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8::7]:4711";proto=https',
      'x-forwarded-for': '203.0.113.9',
    });
    expect(trust.resolve('10.0.0.1', false, headers).ip).toBe('203.0.113.9');
    const forwarded = createProxyTrust({
      trustProxy: ['10.0.0.0/8'],
      forwardedHeader: 'forwarded',
    });
    expect(forwarded.resolve('10.0.0.1', false, headers)).toEqual({
      ip: '2001:db8::7',
      secure: true,
    });
  });

  it('keeps only the last 32 hops of a hostile chain; past them the client is unknown', () => {
    // Every kept hop is a proxy and more lie beyond the cut: the client is not the leftmost kept
    // proxy, it is someone we cannot see.
    const chain = Array.from({ length: 10_000 }, () => '10.0.0.1').join(', ');
    expect(trust.resolve('10.0.0.1', false, h({ 'x-forwarded-for': chain })).ip).toBe('unknown');
    const withClient = `${chain}, 203.0.113.9, 10.0.0.2`;
    expect(trust.resolve('10.0.0.1', false, h({ 'x-forwarded-for': withClient })).ip).toBe(
      '203.0.113.9',
    );
    // Exactly 32 proxies: nothing was cut, so the chain started at the leftmost proxy.
    const full = Array.from({ length: 32 }, (_, i) => `10.0.1.${i}`).join(',');
    expect(trust.resolve('10.0.0.1', false, h({ 'x-forwarded-for': full })).ip).toBe('10.0.1.0');
  });

  it('refuses a malformed trust entry at construction', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/x', '::/129'])
      expect(() => createProxyTrust({ trustProxy: [bad] }), bad).toThrow(TypeError);
  });

  it('matches CIDR boundaries exactly', () => {
    const t = createProxyTrust({ trustProxy: ['192.168.1.128/25'] });
    expect(t.trusts('192.168.1.128')).toBe(true);
    expect(t.trusts('192.168.1.255')).toBe(true);
    expect(t.trusts('192.168.1.127')).toBe(false);
    expect(t.trusts('::ffff:192.168.1.200')).toBe(true);
  });
});

describe('createProxyTrust: hops with ports, opaque and malformed entries (issue 12, defect 4)', () => {
  const trust = createProxyTrust({ trustProxy: ['10.0.0.0/8', 'fd00::/8', 'loopback'] });
  const xff = (value: string, peer = '10.0.0.1') =>
    trust.resolve(peer, false, h({ 'x-forwarded-for': value })).ip;
  const fwd = createProxyTrust({ trustProxy: ['10.0.0.0/8'], forwardedHeader: 'forwarded' });
  const forwarded = (value: string) => fwd.resolve('10.0.0.1', false, h({ forwarded: value })).ip;

  it('strips the port of an X-Forwarded-For entry, as on the Forwarded path', () => {
    // The defect: these resolved to the proxy (10.0.0.1), so one client's forged tokens banned
    // the proxy's address, which is every user behind it.
    expect(xff('203.0.113.9:2222')).toBe('203.0.113.9');
    expect(xff('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(xff('[2001:DB8::1]')).toBe('2001:db8::1');
    expect(xff(' 203.0.113.9:2222 , 10.0.0.7:80')).toBe('203.0.113.9');
    expect(xff('[::ffff:203.0.113.9]:1')).toBe('203.0.113.9');
    expect(xff('[1.2.3.4]:65535')).toBe('1.2.3.4');
    expect(xff('6.6.6.6, [fd00::5]:443', '127.0.0.1')).toBe('6.6.6.6');
  });

  it('never answers the proxy for a malformed or opaque entry', () => {
    for (const bad of [
      'unknown',
      'UNKNOWN',
      'garbage',
      '010.0.0.1', // leading zero: octal to some parsers, so no address at all
      '1.2.3.4:99999',
      '1.2.3.4:',
      '1.2.3.4:x',
      '[2001:db8::1',
      '[2001:db8::1]x',
      '[2001:db8::1]:',
      '1::2::3',
      '203.0.113.9 203.0.113.8',
      '',
      ' ',
      '_',
      `_${'a'.repeat(64)}`,
    ]) {
      expect(xff(`6.6.6.6, ${bad}`), bad).toBe('unknown');
      expect(xff(`6.6.6.6, ${bad}, 10.0.0.9`), bad).toBe('unknown');
    }
  });

  it('answers an obfuscated identifier as itself: it names one client, not the proxy', () => {
    expect(xff('_hidden')).toBe('_hidden');
    expect(forwarded('for=_gazonk')).toBe('_gazonk');
    expect(forwarded('for="_gazonk:_port"')).toBe('_gazonk');
    expect(forwarded('for=unknown')).toBe('unknown');
    expect(forwarded('for="[2001:db8::7]:_p"')).toBe('2001:db8::7');
    expect(forwarded('for=192.0.2.43:80')).toBe('192.0.2.43');
    expect(forwarded('proto=https;by=10.0.0.1')).toBe('unknown');
    expect(forwarded('for=192.0.2.43, for=10.0.0.3')).toBe('192.0.2.43');
  });

  it('canonicalises what a proxy may spell differently', () => {
    expect(xff('fe80::1%eth0')).toBe('fe80::1');
    expect(xff('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(xff('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(xff('\t203.0.113.9\t')).toBe('203.0.113.9');
  });

  it('answers the proxy itself only when it sent no usable header', () => {
    expect(trust.resolve('10.0.0.1', false, h({})).ip).toBe('10.0.0.1');
    expect(xff('')).toBe('10.0.0.1');
    expect(xff('   ')).toBe('10.0.0.1');
    expect(forwarded('')).toBe('10.0.0.1');
  });

  it('reads the scheme of the hop an opaque entry stands for', () => {
    const headers = h({ 'x-forwarded-for': '_a, _b', 'x-forwarded-proto': 'http, https' });
    expect(trust.resolve('10.0.0.1', false, headers)).toEqual({ ip: '_b', secure: true });
  });
});

/**
 * Properties: a forwarding header is a list of entries, each an address (trusted or not, spelled
 * any way a proxy spells it) or something that is no address. An independent walk over what each
 * entry *denotes* (never over its text) gives the answer; the resolver must agree exactly. In
 * particular the answer is a trusted proxy's address only when every hop was a proxy and nothing
 * was cut (the request came from that proxy), or when the proxy sent no usable header.
 */
describe('createProxyTrust: properties', () => {
  const ranges = ['10.0.0.0/8', 'fd00::/8', 'loopback', '192.168.1.128/25'];
  const trust = createProxyTrust({ trustProxy: ranges });
  const fwdTrust = createProxyTrust({ trustProxy: ranges, forwardedHeader: 'forwarded' });

  type Entry =
    | { kind: 'addr'; canonical: string; trusted: boolean; text: string; forwarded: string }
    | { kind: 'opaque'; answer: string; text: string; forwarded: string };

  const byte = fc.integer({ min: 0, max: 255 });
  const hextet = fc.integer({ min: 0, max: 0xffff });
  const port = fc.integer({ min: 0, max: 65535 });
  const v4 = (a: number, b: number, c: number, d: number) => `${a}.${b}.${c}.${d}`;
  const fullV6 = (hs: readonly number[], upper: boolean) => {
    const s = hs.map((x) => x.toString(16).padStart(4, '0')).join(':');
    return upper ? s.toUpperCase() : s;
  };

  // How a proxy may write an IPv4 address c.
  const spellV4 = (c: string): fc.Arbitrary<{ text: string; forwarded: string }> =>
    fc.oneof(
      fc.constant({ text: c, forwarded: `for=${c}` }),
      port.map((p) => ({ text: `${c}:${p}`, forwarded: `for="${c}:${p}"` })),
      fc.constant({ text: ` ${c}\t`, forwarded: `for= ${c} ` }),
      fc.constant({ text: `::ffff:${c}`, forwarded: `for="[::ffff:${c}]"` }),
      port.map((p) => ({ text: `[::FFFF:${c}]:${p}`, forwarded: `for="[::FFFF:${c}]:${p}"` })),
    );
  // How a proxy may write an IPv6 address (hextets hs, canonical c).
  const spellV6 = (hs: readonly number[], c: string) =>
    fc.oneof(
      fc.constant({ text: c, forwarded: `for="[${c}]"` }),
      fc.boolean().map((u) => ({ text: fullV6(hs, u), forwarded: `for="[${fullV6(hs, u)}]"` })),
      port.map((p) => ({ text: `[${c}]:${p}`, forwarded: `for="[${c}]:${p}"` })),
      fc.constant({ text: `${c}%eth0`, forwarded: `for="[${c}%25eth0]"` }),
      fc.constant({ text: `[${c.toUpperCase()}]`, forwarded: `for="[${c}]:_obf"` }),
    );

  const addr = (
    trusted: boolean,
    a: fc.Arbitrary<string>,
  ): fc.Arbitrary<Entry & { kind: 'addr' }> =>
    a.chain((c) => {
      const canonical = canonicalIp(c)!;
      const spell = c.includes(':')
        ? spellV6(
            // the eight hextets, to write the address in full
            canonicalHextets(canonical),
            canonical,
          )
        : spellV4(canonical);
      return spell.map((s) => ({ kind: 'addr' as const, canonical, trusted, ...s }));
    });
  const trustedV4 = fc.oneof(
    fc.tuple(byte, byte, byte).map(([b, c, d]) => v4(10, b, c, d)),
    fc.tuple(byte, byte, byte).map(([b, c, d]) => v4(127, b, c, d)),
    fc.integer({ min: 128, max: 255 }).map((d) => v4(192, 168, 1, d)),
  );
  const trustedV6 = fc.oneof(
    fc
      .tuple(fc.integer({ min: 0, max: 0xff }), fc.array(hextet, { minLength: 7, maxLength: 7 }))
      .map(([lo, rest]) => fullV6([0xfd00 | lo, ...rest], false)),
    fc.constant('::1'),
  );
  const untrustedV4 = fc
    .tuple(byte, byte, byte, byte)
    .filter(
      ([a, b, c, d]) => a !== 10 && a !== 127 && !(a === 192 && b === 168 && c === 1 && d >= 128),
    )
    .map(([a, b, c, d]) => v4(a, b, c, d));
  // Global unicast (2000::/3): never a trusted range, never IPv4-mapped.
  const untrustedV6 = fc
    .tuple(
      fc.integer({ min: 0x2000, max: 0x3fff }),
      fc.array(hextet, { minLength: 7, maxLength: 7 }),
    )
    .map(([first, rest]) => fullV6([first, ...rest], false));

  // Entries that are no address: each answers "unknown", or the identifier when obfuscated.
  const obfuscated = fc
    .stringMatching(/^_[A-Za-z0-9._-]{1,40}$/)
    .map((t): Entry => ({ kind: 'opaque', answer: t, text: t, forwarded: `for=${t}` }));
  const junkText = fc.oneof(
    fc.constantFrom(
      'unknown',
      'Unknown',
      '',
      '010.0.0.1',
      '10.0.0.01',
      '1.2.3.4:99999',
      '1.2.3.4:',
      '[::1',
      '[::1]x',
      '1::2::3',
      '::ffff:1.2.3.4.5',
      '10.0.0.1 10.0.0.2',
      '1.2.3',
      '1:2:3:4:5:6:7:8:9',
      '[fd00::1]:65536',
      '[10.0.0.1]:x',
    ),
    // No ':' and a character that is neither a digit nor a dot: no IPv4, no IPv6.
    fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((s) => /[^0-9.\s]/.test(s) && !/[,;:"=_[\]%\\]/.test(s)),
  );
  const junk = junkText.map(
    (t): Entry => ({ kind: 'opaque', answer: 'unknown', text: t, forwarded: `for="${t}"` }),
  );
  const entry: fc.Arbitrary<Entry> = fc.oneof(
    { weight: 4, arbitrary: addr(true, fc.oneof(trustedV4, trustedV6)) },
    { weight: 3, arbitrary: addr(false, fc.oneof(untrustedV4, untrustedV6)) },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: obfuscated },
  );
  const chain = fc.oneof(
    { weight: 5, arbitrary: fc.array(entry, { maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(entry, { minLength: 28, maxLength: 40 }) },
  );
  const sep = fc.constantFrom(',', ', ', ' ,\t');
  const peer = fc.oneof(trustedV4, trustedV6);

  /** The reference walk, over denotations. */
  function expected(entries: readonly Entry[], header: string, peerIp: string): string {
    if (header.trim() === '') return canonicalIp(peerIp)!;
    const kept = entries.slice(-32);
    for (let i = kept.length - 1; i >= 0; i--) {
      const e = kept[i]!;
      if (e.kind === 'opaque') return e.answer;
      if (!e.trusted) return e.canonical;
    }
    // Every kept entry is a trusted address here.
    const leftmost = kept[0]!;
    if (entries.length > 32 || leftmost.kind !== 'addr') return 'unknown';
    return leftmost.canonical;
  }

  it('X-Forwarded-For: the answer is the reference walk over what the entries denote', () => {
    fc.assert(
      fc.property(chain, sep, peer, (entries, s, peerIp) => {
        const header = entries.map((e) => e.text).join(s);
        const got = trust.resolve(peerIp, false, h({ 'x-forwarded-for': header })).ip;
        const want = expected(entries, header, peerIp);
        expect(got).toBe(want);
        // Hence: a trusted address only for a chain of proxies only, uncut, or no header.
        if (trust.trusts(got))
          expect(
            header.trim() === '' ||
              (entries.length <= 32 && entries.every((e) => e.kind === 'addr' && e.trusted)),
          ).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('Forwarded: the same walk', () => {
    fc.assert(
      fc.property(chain, peer, (entries, peerIp) => {
        const header = entries.map((e) => `${e.forwarded};proto=https`).join(', ');
        const got = fwdTrust.resolve(peerIp, false, h({ forwarded: header })).ip;
        expect(got).toBe(expected(entries, header, peerIp));
      }),
      { numRuns: 2000 },
    );
  });

  it('a client behind proxies is found whatever it prepends', () => {
    // The topology: the client (untrusted) writes any entries it likes, then each proxy appends
    // the address of its peer. The answer is the client's own address, exactly.
    fc.assert(
      fc.property(
        fc.array(fc.oneof(entry, junk), { maxLength: 50 }),
        addr(false, fc.oneof(untrustedV4, untrustedV6)),
        fc.array(addr(true, fc.oneof(trustedV4, trustedV6)), { maxLength: 6 }),
        peer,
        sep,
        (forged, client, proxies, peerIp, s) => {
          const header = [...forged, client, ...proxies].map((e) => e.text).join(s);
          expect(trust.resolve(peerIp, false, h({ 'x-forwarded-for': header })).ip).toBe(
            client.canonical,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is total on arbitrary header text: never throws, answers an address or an opaque name', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), peer, (header, peerIp) => {
        for (const t of [trust, fwdTrust]) {
          const { ip } = t.resolve(
            peerIp,
            false,
            h({ 'x-forwarded-for': header, forwarded: header }),
          );
          expect(
            canonicalIp(ip) === ip || ip === 'unknown' || /^_[A-Za-z0-9._-]{1,63}$/.test(ip),
            ip,
          ).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** The eight hextets of a canonical IPv6 address, from its text (test helper). */
function canonicalHextets(c: string): number[] {
  const [head = '', tail] = c.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((x) => Number.parseInt(x, 16)));
  const a = parse(head);
  const b = tail === undefined ? [] : parse(tail);
  return [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
}
