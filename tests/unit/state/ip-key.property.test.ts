/**
 * Properties of the per-IP key. Network keys are checked against the WHATWG URL parser's IPv6
 * serialiser (RFC 5952 compression, written independently of ours) on the masked address.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../../src/core/ip-address.ts';
import { ipKey } from '../../../src/state/ip-key.ts';

const hextet = fc.integer({ min: 0, max: 0xffff });
const hextets = fc.array(hextet, { minLength: 8, maxLength: 8 });
const prefix = fc.integer({ min: 32, max: 128 });
const byte = fc.integer({ min: 0, max: 255 });
const v4 = fc.tuple(byte, byte, byte, byte).map((b) => b.join('.'));

/** Not IPv4-mapped (::ffff:0:0/96) nor NAT64 (64:ff9b::/96): those key as IPv4. */
const isPlainV6 = (h: readonly number[]) =>
  !(h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) &&
  !(h[0] === 0x64 && h[1] === 0xff9b && h.slice(2, 6).every((x) => x === 0));
const v6 = hextets.filter(isPlainV6);

const full = (h: readonly number[]) => h.map((x) => x.toString(16).padStart(4, '0')).join(':');
/** The URL parser's canonical text of an IPv6 address. */
const whatwg = (h: readonly number[]) => new URL(`http://[${full(h)}]/`).hostname.slice(1, -1);
const mask = (h: readonly number[], p: number) =>
  h.map((x, i) => {
    const bits = Math.min(16, Math.max(0, p - 16 * i));
    return bits === 16 ? x : x & ((0xffff << (16 - bits)) & 0xffff);
  });
/** Ways to write the same IPv6 address. */
const spell = (h: readonly number[]) =>
  fc.constantFrom(
    full(h),
    full(h).toUpperCase(),
    whatwg(h),
    `[${whatwg(h)}]`,
    ` ${whatwg(h)} `,
    `${whatwg(h)}%eth0`,
    h.map((x) => x.toString(16)).join(':'),
  );

describe('ipKey properties', () => {
  it('every address of one network maps to one key: the canonical network and its prefix', () => {
    fc.assert(
      fc.property(v6, hextets, prefix, (a, noise, p) => {
        // b shares a's first p bits and nothing else is promised.
        const b = a.map((x, i) => {
          const keep = Math.min(16, Math.max(0, p - 16 * i));
          const m = keep === 16 ? 0xffff : (0xffff << (16 - keep)) & 0xffff;
          return (x & m) | (noise[i]! & ~m & 0xffff);
        });
        fc.pre(isPlainV6(b));
        const want = p === 128 ? whatwg(a) : `${whatwg(mask(a, p))}/${p}`;
        expect(ipKey(whatwg(a), p)).toBe(want);
        expect(ipKey(whatwg(b), p)).toBe(want);
      }),
      { numRuns: 5000 },
    );
  });

  it('every address of one /64 maps to one key, whatever the interface id', () => {
    fc.assert(
      fc.property(
        v6,
        fc.array(fc.array(hextet, { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 20 }),
        (net, ids) => {
          const keys = new Set(ids.map((id) => ipKey(whatwg([...net.slice(0, 4), ...id]), 64)));
          expect(keys.size).toBe(1);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('addresses of different networks get different keys', () => {
    fc.assert(
      fc.property(v6, v6, prefix, (a, b, p) => {
        const same = mask(a, p).every((x, i) => x === mask(b, p)[i]);
        expect(ipKey(whatwg(a), p) === ipKey(whatwg(b), p)).toBe(same);
      }),
      { numRuns: 5000 },
    );
    // Neighbouring /64s, which random pairs almost never are.
    fc.assert(
      fc.property(v6, (a) => {
        const b = [...a];
        b[3] = (b[3]! + 1) & 0xffff;
        fc.pre(isPlainV6(b));
        expect(ipKey(whatwg(a), 64)).not.toBe(ipKey(whatwg(b), 64));
      }),
    );
  });

  it('IPv4-mapped IPv6 has the key of the IPv4 address, which is the address itself', () => {
    fc.assert(
      fc.property(v4, prefix, (a, p) => {
        const [w, x, y, z] = a.split('.').map(Number) as [number, number, number, number];
        const hex = `${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
        expect(ipKey(a, p)).toBe(a);
        expect(ipKey(`::ffff:${a}`, p)).toBe(a);
        expect(ipKey(`::FFFF:${hex}`, p)).toBe(a);
        expect(ipKey(`0:0:0:0:0:ffff:${a}`, p)).toBe(a);
        expect(ipKey(`[::ffff:${a}]`, p)).toBe(a);
      }),
      { numRuns: 2000 },
    );
  });

  it('spelling does not matter: any spelling keys as the canonical form does', () => {
    fc.assert(
      fc.property(
        v6.chain((h) => fc.tuple(fc.constant(h), spell(h))),
        prefix,
        ([h, text], p) => {
          expect(ipKey(text, p)).toBe(ipKey(whatwg(h), p));
          expect(ipKey(text, p)).toBe(ipKey(canonicalIp(text)!, p));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('is idempotent on every input, and a key of an address is never a key of garbage', () => {
    const anything = fc.oneof(
      v4,
      v6.map(whatwg),
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[0-9a-fA-F:./%[\] ]{0,50}$/),
    );
    fc.assert(
      fc.property(anything, prefix, (s, p) => {
        const k = ipKey(s, p);
        expect(ipKey(k, p)).toBe(k);
        expect(k.length).toBeLessThanOrEqual(65);
        const isAddress = canonicalIp(s) !== undefined;
        const isNetwork = /\/\d+$/.test(k) && !k.startsWith('?');
        // Garbage keys are opaque: a token with no ':' (never an address but a dotted quad,
        // which parses) or '?'-prefixed. Address keys are an address or a network.
        if (!isAddress && !isNetwork) {
          expect(k.startsWith('?') || (!k.includes(':') && canonicalIp(k) === undefined), k).toBe(
            true,
          );
        }
      }),
      { numRuns: 5000 },
    );
  });
});
