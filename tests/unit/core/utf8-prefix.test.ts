/**
 * `utf8Prefix`: the longest prefix of a string, in whole characters, that fits a number of UTF-8
 * bytes. Close reasons (123 bytes at most) are cut with it; a cut inside a character must neither
 * overflow the bound nor leave a replacement character behind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Prefix } from '../../../src/core/encoding.ts';
import { withRetryHint } from '../../../src/guard/admin.ts';

const bytes = (s: string): number => new TextEncoder().encode(s).byteLength;
/** Strings of one- to four-byte characters, long enough to need cutting. */
const mixed = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', ' '), maxLength, size: 'max' });

describe('utf8Prefix', () => {
  it('is the longest whole-character prefix within the bound (generated strings)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), mixed(80)),
        fc.nat(200),
        (s, max) => {
          const p = utf8Prefix(s, max);
          expect(bytes(p)).toBeLessThanOrEqual(max);
          expect(s.startsWith(p)).toBe(true);
          expect(p).not.toContain('\uFFFD');
          // One more code point would not fit (or there is none).
          const next = s.slice(p.length).codePointAt(0);
          if (next !== undefined)
            expect(bytes(p + String.fromCodePoint(next))).toBeGreaterThan(max);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps a string that fits, and cuts a character whole', () => {
    expect(utf8Prefix('banned', 123)).toBe('banned');
    expect(utf8Prefix('aé', 2)).toBe('a'); // é is two bytes
    expect(utf8Prefix('a😀', 4)).toBe('a'); // the emoji is four
    expect(utf8Prefix('a😀', 5)).toBe('a😀');
  });
});

describe('withRetryHint', () => {
  it('keeps the hint whole and the reason within 123 bytes, whatever the reason', () => {
    fc.assert(
      fc.property(mixed(200), (reason) => {
        const out = withRetryHint(reason, 30_000);
        expect(bytes(out)).toBeLessThanOrEqual(123);
        expect(out).toMatch(/; retry in \d+ ms$/);
        expect(out).not.toContain('\uFFFD');
        expect(reason.startsWith(out.slice(0, out.lastIndexOf('; retry in ')))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
