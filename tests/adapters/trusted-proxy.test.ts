/** Client addresses behind proxies: forwarding headers are believed only from trusted peers. */
import { describe, expect, it } from 'vitest';
import { canonicalIp, createProxyTrust } from '../../src/trusted-proxy.ts';

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

  it('stops at an unparsable hop, at the last proxy', () => {
    const headers = h({ 'x-forwarded-for': 'garbage, 10.9.9.9' });
    expect(trust.resolve('10.0.0.1', false, headers).ip).toBe('10.9.9.9');
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

  it('keeps only the last 32 hops of a hostile chain', () => {
    const chain = Array.from({ length: 10_000 }, () => '10.0.0.1').join(', ');
    expect(trust.resolve('10.0.0.1', false, h({ 'x-forwarded-for': chain })).ip).toBe('10.0.0.1');
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
