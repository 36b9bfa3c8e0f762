/**
 * Fuzz: the origin matcher against a reference built on WHATWG `new URL`.
 *
 * Oracles, for random allowlists (exact origins, one-label wildcards, IPv4 and IPv6 literals,
 * default and explicit ports) and candidates mutated from them (case, ports, prefixes and
 * suffixes, extra labels, trailing dots, userinfo, paths, whitespace, backslashes, look-alike
 * Unicode, percent escapes, scheme swaps) or arbitrary:
 * - safety: an accepted candidate is a bare origin (`new URL` parses it; nothing after the
 *   authority; no userinfo) whose (scheme, host, port) as `new URL` reads them is an exact entry's,
 *   or a wildcard entry's with exactly one label in front;
 * - liveness: a candidate a browser would send (`new URL(c).origin === c`) whose tuple is in the
 *   list is accepted;
 * - `null` and `'null'` follow the `missing` and `null` policies; `check` never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOriginMatcher, type OriginOptions } from '../../src/mod.ts';
import { fuzz, timeoutOf } from './fuzz.ts';

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

interface Entry {
  readonly scheme: 'http' | 'https' | 'ws' | 'wss';
  /** Exact host, or a wildcard's base (a DNS name then). */
  readonly host: string;
  readonly wildcard: boolean;
  readonly port: number | undefined;
}

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,5}[a-z0-9])?$/);
const tld = fc.stringMatching(/^[a-z]{2,5}$/);
// A DNS name `new URL` keeps as written: its last label is alphabetic (not an IPv4 number), and no
// label is `xn--` (punycode `new URL` would validate).
const dnsName = fc
  .tuple(fc.array(label, { minLength: 0, maxLength: 3 }), tld)
  .map(([ls, t]) => [...ls, t].join('.'))
  .filter((h) => !h.split('.').some((l) => l.startsWith('xn--')));
const ipv4 = fc
  .tuple(
    fc.integer({ min: 1, max: 223 }),
    fc.nat(255),
    fc.nat(255),
    fc.integer({ min: 1, max: 254 }),
  )
  .map((parts) => parts.join('.'));
const ipv6 = fc.constantFrom('[::1]', '[2001:db8::1]', '[fe80::1]', '[2001:db8:0:1::ab]');

const entryArb: fc.Arbitrary<Entry> = fc
  .oneof(
    { weight: 4, arbitrary: fc.record({ host: dnsName, wildcard: fc.constant(false) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        host: dnsName.filter((h) => h.includes('.')),
        wildcard: fc.constant(true),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ host: fc.oneof(ipv4, ipv6), wildcard: fc.constant(false) }),
    },
  )
  .chain((partial) =>
    fc.record({
      scheme: fc.constantFrom('http', 'https', 'ws', 'wss'),
      host: fc.constant(partial.host),
      wildcard: fc.constant(partial.wildcard),
      port: fc.option(
        fc.oneof(fc.constantFrom(80, 443, 8080, 5173), fc.integer({ min: 1, max: 65535 })),
        {
          nil: undefined,
        },
      ),
    }),
  );

function serialize(e: Entry): string {
  return `${e.scheme}://${e.wildcard ? '*.' : ''}${e.host}${e.port === undefined ? '' : `:${e.port}`}`;
}

/** An entry's tuple as `new URL` reads it. */
function entryTuple(e: Entry): { scheme: string; host: string; port: number; wildcard: boolean } {
  const u = new URL(`${e.scheme}://${e.host}${e.port === undefined ? '' : `:${e.port}`}`);
  const scheme = u.protocol.slice(0, -1);
  return {
    scheme,
    host: u.hostname,
    port: u.port === '' ? DEFAULT_PORT[scheme]! : Number(u.port),
    wildcard: e.wildcard,
  };
}

/** A candidate's tuple by `new URL`, when it is a bare origin; undefined otherwise. */
function candidateTuple(c: string): { scheme: string; host: string; port: number } | undefined {
  let u: URL;
  try {
    u = new URL(c);
  } catch {
    return undefined;
  }
  const at = c.indexOf('://');
  if (at < 0) return undefined;
  // Nothing after the authority, no userinfo, no whitespace or controls `new URL` would drop.
  if (/[/?#@\\\s\x00-\x1f\x7f]/.test(c.slice(at + 3))) return undefined;
  if (u.username !== '' || u.password !== '') return undefined;
  const scheme = u.protocol.slice(0, -1);
  const def = DEFAULT_PORT[scheme];
  if (def === undefined) return undefined;
  return { scheme, host: u.hostname, port: u.port === '' ? def : Number(u.port) };
}

/** Whether the reference puts the candidate's tuple in the list. */
function referenceAllows(list: readonly Entry[], c: string): boolean {
  const t = candidateTuple(c);
  if (!t) return false;
  const isIp = t.host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(t.host);
  return list.some((e) => {
    const r = entryTuple(e);
    if (r.scheme !== t.scheme || r.port !== t.port) return false;
    if (!r.wildcard) return r.host === t.host;
    // One DNS label in front (`*` is a valid URL host character, but names no host).
    const dot = t.host.indexOf('.');
    return (
      !isIp &&
      dot > 0 &&
      /^[a-z0-9_-]+$/.test(t.host.slice(0, dot)) &&
      t.host.slice(dot + 1) === r.host
    );
  });
}

/** Candidates built from one entry of the list, by the mutations attackers use. */
function mutated(list: readonly Entry[]): fc.Arbitrary<string> {
  const entry = fc.constantFrom(...list);
  const hostOf = (e: Entry, lbl: string) => (e.wildcard ? `${lbl}.${e.host}` : e.host);
  const portPart = (e: Entry) => (e.port === undefined ? '' : `:${e.port}`);
  return fc
    .tuple(
      entry,
      label,
      fc.integer({ min: 0, max: 25 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    )
    .map(([e, lbl, kind, mask]) => {
      const host = hostOf(e, lbl);
      const base = `${e.scheme}://${host}${portPart(e)}`;
      switch (kind) {
        case 0:
          return base;
        case 1: // random case
          return [...base].map((ch, i) => (mask[i % mask.length] ? ch.toUpperCase() : ch)).join('');
        case 2: // default port written out
          return `${e.scheme}://${host}:${e.port ?? DEFAULT_PORT[e.scheme]}`;
        case 3: // leading zeros, or a port out of range
          return `${e.scheme}://${host}:${mask[0] ? '0' : ''}0${e.port ?? DEFAULT_PORT[e.scheme]}`;
        case 4:
          return `${e.scheme}://${host}:${mask[0] ? 0 : 65536 + (e.port ?? 0)}`;
        case 5: // suffix: the listed host as a prefix of another
          return `${e.scheme}://${host}.${lbl}.com${portPart(e)}`;
        case 6: // prefix glued on
          return `${e.scheme}://${lbl}${host}${portPart(e)}`;
        case 7: // an extra label (two in front of a wildcard's base)
          return `${e.scheme}://${lbl}.${host}${portPart(e)}`;
        case 8: // the wildcard's bare base
          return `${e.scheme}://${e.host}${portPart(e)}`;
        case 9: // trailing dot, empty label
          return `${e.scheme}://${host}.${portPart(e)}`;
        case 10:
          return `${e.scheme}://${host.replace('.', '..')}${portPart(e)}`;
        case 11: // userinfo, both ways round
          return mask[0]
            ? `${e.scheme}://${lbl}@${host}${portPart(e)}`
            : `${e.scheme}://${host}${portPart(e)}@${lbl}.evil`;
        case 12: // path, query, fragment, trailing slash
          return `${base}${['/', '/x', '?', '#', '/..'][lbl.length % 5]}`;
        case 13: // whitespace, which new URL would strip
          return mask[0] ? ` ${base}` : `${base}\t`;
        case 14:
          return `${e.scheme}://${host.slice(0, 1)}\t${host.slice(1)}${portPart(e)}`;
        case 15: // scheme swap
          return `${{ http: 'https', https: 'http', ws: 'wss', wss: 'ws' }[e.scheme]}://${host}${portPart(e)}`;
        case 16:
          return `${mask[0] ? 'ftp' : 'javascript'}://${host}${portPart(e)}`;
        case 17: // backslashes, which new URL reads as slashes
          return `${e.scheme}:\\\\${host}${portPart(e)}`;
        case 18: // look-alikes: a full-width dot, a Cyrillic a, a dotted capital I
          return `${e.scheme}://${host.replace('.', '\u3002')}${portPart(e)}`;
        case 19:
          return `${e.scheme}://${host.replace('a', '\u0430')}${portPart(e)}`;
        case 20:
          return `${e.scheme}://${host.replace('i', '\u0130')}${portPart(e)}`;
        case 21: // a percent escape in the host
          return `${e.scheme}://%${host.charCodeAt(0).toString(16)}${host.slice(1)}${portPart(e)}`;
        case 22: // the wildcard itself
          return serialize(e);
        case 23: // an IP's other spellings
          return `${e.scheme}://${host === '[::1]' ? '[0:0::1]' : host.replace(/^(\d+)\./, '0$1.')}${portPart(e)}`;
        case 24: // no scheme, or no slashes
          return mask[0] ? `//${host}${portPart(e)}` : `${e.scheme}:${host}${portPart(e)}`;
        default: // what a browser sends for it
          return candidateTuple(base) ? new URL(base).origin : base;
      }
    });
}

const arbitraryOrigin = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.webUrl().map((u) => u.replace(/\/.*$/, (m) => (m.startsWith('//') ? m : ''))),
  fc.constantFrom('null', '', '*', 'http://', 'https://[::1', 'https://[]', 'http://:80'),
);

describe('fuzz: the origin matcher', () => {
  it(
    'accepts only bare origins whose new URL tuple is listed; accepts what browsers send for listed ones',
    async () => {
      const scenario = fc
        .record({
          list: fc.array(entryArb, { minLength: 1, maxLength: 4 }),
          missing: fc.constantFrom(undefined, 'allow', 'deny'),
          nullPolicy: fc.constantFrom(undefined, 'allow', 'deny'),
        })
        .chain((s) =>
          fc.record({
            scenario: fc.constant(s),
            candidates: fc.array(fc.oneof(mutated(s.list), arbitraryOrigin), {
              minLength: 1,
              maxLength: 12,
            }),
          }),
        );
      let accepted = 0;
      let refused = 0;
      await fuzz(
        'origin matcher',
        fc.property(scenario, ({ scenario: s, candidates }) => {
          const options: OriginOptions = {
            allow: s.list.map(serialize),
            ...(s.missing ? { missing: s.missing as 'allow' | 'deny' } : {}),
            ...(s.nullPolicy ? { null: s.nullPolicy as 'allow' | 'deny' } : {}),
          };
          const matcher = createOriginMatcher(options);
          expect(matcher.check(null)).toBe((s.missing ?? 'allow') === 'allow');
          expect(matcher.check('null')).toBe((s.nullPolicy ?? 'deny') === 'allow');
          for (const c of candidates) {
            if (c === 'null') continue;
            const ok = matcher.check(c);
            const listed = referenceAllows(s.list, c);
            if (ok) expect(listed, `accepted ${JSON.stringify(c)}`).toBe(true);
            if (ok) accepted++;
            else refused++;
            let browser = false;
            try {
              browser = new URL(c).origin === c;
            } catch {
              browser = false;
            }
            if (browser && listed) expect(ok, `refused ${JSON.stringify(c)}`).toBe(true);
          }
        }),
        { weight: 20, msPerRun: 0.3 },
      );
      // Both sides were exercised: the mutations reach listed origins, and refusals.
      expect(accepted).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(accepted);
    },
    timeoutOf({ weight: 20, msPerRun: 0.3 }),
  );

  it('the reference refuses what the matcher must refuse (the oracle has teeth)', () => {
    const list: Entry[] = [
      { scheme: 'https', host: 'app.example.com', wildcard: false, port: undefined },
      { scheme: 'https', host: 'example.org', wildcard: true, port: undefined },
    ];
    for (const c of [
      'https://app.example.com.evil.io',
      'https://evil-app.example.com',
      'https://app.example.com:444',
      'http://app.example.com',
      'https://user@app.example.com',
      'https://app.example.com/',
      'https://a.b.example.org',
      'https://example.org',
      'https://*.example.org',
    ])
      expect(referenceAllows(list, c), c).toBe(false);
    for (const c of [
      'https://app.example.com',
      'https://APP.example.com:443',
      'https://a.example.org',
    ])
      expect(referenceAllows(list, c), c).toBe(true);
  });
});
