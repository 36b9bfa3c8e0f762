/** The per-IP key: IPv4 as is, IPv6 per network prefix, total on any input (issue 12, defect 5). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_IPV6_PREFIX, ipKey, validateIpv6Prefix } from '../../../src/state/ip-key.ts';

describe('ipKey', () => {
  it('keeps a canonical IPv4 address, and canonicalises other spellings of it', () => {
    expect(ipKey('203.0.113.9', 64)).toBe('203.0.113.9');
    expect(ipKey(' 203.0.113.9 ', 64)).toBe('203.0.113.9');
    expect(ipKey('[203.0.113.9]', 64)).toBe('203.0.113.9');
    expect(ipKey('0.0.0.0', 128)).toBe('0.0.0.0');
  });

  it('keys IPv4-mapped IPv6 and the NAT64 well-known prefix as the IPv4 address inside', () => {
    expect(ipKey('::ffff:203.0.113.9', 64)).toBe('203.0.113.9');
    expect(ipKey('::FFFF:cb00:7109', 64)).toBe('203.0.113.9');
    // RFC 6052: a translator (SIIT-DC) shows every IPv4 client as 64:ff9b::a.b.c.d. Keyed per
    // /64, the whole IPv4 Internet would share one key, and one client's forged tokens would
    // ban every IPv4 user.
    expect(ipKey('64:ff9b::203.0.113.9', 64)).toBe('203.0.113.9');
    expect(ipKey('64:ff9b::cb00:7109', 48)).toBe('203.0.113.9');
    expect(ipKey('64:ff9b::1:203.0.113.9', 64)).toBe('64:ff9b::/64'); // outside the /96
  });

  it('keys IPv6 per network prefix, in canonical compressed form', () => {
    expect(ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64)).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:DB8:1:2::1', 64)).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 48)).toBe('2001:db8:1::/48');
    expect(ipKey('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200::/56');
    expect(ipKey('2001:db8:0:1:0:0:0:1', 64)).toBe('2001:db8:0:1::/64');
    expect(ipKey('2001:db8:1:2:3:4:5:6', 32)).toBe('2001:db8::/32');
    expect(ipKey('2001:db8:1:2:3:4:5:6', 127)).toBe('2001:db8:1:2:3:4:5:6/127');
    expect(ipKey('2001:db8:1:2:3:4:5:7', 127)).toBe('2001:db8:1:2:3:4:5:6/127');
    expect(ipKey('::1', 64)).toBe('::/64');
    expect(ipKey('fe80::1%eth0', 64)).toBe('fe80::/64');
    expect(ipKey('[2001:db8::1]', 64)).toBe('2001:db8::/64');
  });

  it('keys /128 as the canonical address itself', () => {
    expect(ipKey('2001:0db8:0000:0000:0000:0000:0000:0001', 128)).toBe('2001:db8::1');
    expect(ipKey('::1', 128)).toBe('::1');
  });

  it('takes its own network keys back unchanged', () => {
    expect(ipKey('2001:db8:1:2::/64', 64)).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:2::9/64', 64)).toBe('2001:db8:1:2::/64');
    // A network of another size is not an address of this one: opaque, never that network's key.
    expect(ipKey('2001:db8:1:2::/48', 64)).toBe('?2001:db8:1:2::/48');
    expect(ipKey('2001:db8:1:2::/064', 64)).toBe('?2001:db8:1:2::/064');
  });

  it('is total: opaque names stay, anything else gets a bounded key that no address has', () => {
    expect(ipKey('unknown', 64)).toBe('unknown');
    expect(ipKey('_hidden', 64)).toBe('_hidden');
    expect(ipKey('', 64)).toBe('?');
    expect(ipKey('010.0.0.1', 64)).toBe('010.0.0.1');
    expect(ipKey('1.2.3.4:80', 64)).toBe('?1.2.3.4:80');
    const long = ipKey('x'.repeat(10_000), 64);
    expect(long.length).toBeLessThanOrEqual(65);
    expect(ipKey(`${'x'.repeat(10_000)}:`, 64)).toBe(`?${'x'.repeat(64)}`);
  });

  it('never throws on a prefix the doctor would refuse', () => {
    for (const p of [Number.NaN, -1, 0, 31, 129, 1e9, 64.5, Number.POSITIVE_INFINITY])
      expect(() => ipKey('2001:db8::1', p)).not.toThrow();
    expect(ipKey('2001:db8:1:2::1', Number.NaN)).toBe(
      ipKey('2001:db8:1:2::1', DEFAULT_IPV6_PREFIX),
    );
    expect(ipKey('2001:db8:1:2::1', 8)).toBe('2001:db8::/32');
    expect(ipKey('2001:db8:1:2::1', 500)).toBe('2001:db8:1:2::1');
  });
});

describe('validateIpv6Prefix', () => {
  it('accepts integers 32..128 and leaving it unset', () => {
    for (const ok of [undefined, 32, 48, 56, 64, 128])
      expect(validateIpv6Prefix(ok), String(ok)).toEqual([]);
  });

  it('refuses everything else, saying why', () => {
    for (const bad of [31, 129, 0, -64, 64.5, Number.NaN, '64', null, {}]) {
      const problems = validateIpv6Prefix(bad);
      expect(problems, String(bad)).toHaveLength(1);
      expect(problems[0]).toMatch(/^ipv6Prefix: .*32\.\.128/);
    }
  });
});
