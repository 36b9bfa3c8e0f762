/**
 * Property: the origin matcher never accepts an origin whose (scheme, host, port) is outside the
 * allowlist. Candidates are built adversarially from the listed hosts (suffix and prefix
 * constructions, extra labels, case changes, trailing dots, userinfo, paths) and mixed with
 * arbitrary strings; every accepted candidate is checked against an independent model of the
 * list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOriginMatcher } from '../../../src/mod.ts';

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };
const SCHEMES = ['http', 'https', 'ws', 'wss'] as const;

interface Entry {
  scheme: string;
  /** Exact host, or the base of a one-label wildcard. */
  host: string;
  wildcard: boolean;
  /** Explicit port, or undefined for the scheme's default. */
  port: number | undefined;
}

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const scheme = fc.constantFrom(...SCHEMES);
const port = fc.option(
  fc.oneof(fc.constantFrom(80, 443, 8080, 8443, 5173), fc.integer({ min: 1, max: 65535 })),
  { nil: undefined },
);

// A wildcard needs a base of two labels or more ("*.com" is a start-up error).
const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    scheme,
    host: domain,
    wildcard: fc.boolean(),
    port,
  })
  .filter((e) => !e.wildcard || e.host.includes('.'));

function serialize(e: Entry): string {
  return `${e.scheme}://${e.wildcard ? '*.' : ''}${e.host}${e.port === undefined ? '' : `:${e.port}`}`;
}

/**
 * The model: a candidate is allowed iff it is exactly `scheme://host[:port]` (ASCII, no
 * userinfo, path, query or trailing dot) and its lower-cased tuple equals an exact entry, or its
 * host is one non-empty label followed by a wildcard entry's base.
 */
function modelAllows(list: readonly Entry[], candidate: string): boolean {
  const m = /^([a-z]+):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d+))?$/i.exec(candidate);
  if (!m) return false;
  const s = m[1]!.toLowerCase();
  const host = m[2]!.toLowerCase();
  const def = DEFAULT_PORT[s];
  if (def === undefined) return false;
  const p = m[3] === undefined ? def : Number(m[3]);
  return list.some((e) => {
    if (e.scheme !== s || (e.port ?? DEFAULT_PORT[e.scheme]) !== p) return false;
    if (!e.wildcard) return e.host === host;
    const dot = host.indexOf('.');
    return dot > 0 && host.slice(dot + 1) === e.host;
  });
}

function randomCase(text: string, mask: readonly boolean[]): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    out += mask[i % Math.max(1, mask.length)] ? ch.toUpperCase() : ch;
  }
  return out;
}

/** Adversarial candidates derived from one allowlist entry. */
function candidateFrom(list: readonly Entry[]): fc.Arbitrary<string> {
  return fc
    .record({
      entry: fc.constantFrom(...list),
      evil: domain,
      evilLabel: label,
      otherScheme: scheme,
      otherPort: port,
      mask: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      shape: fc.integer({ min: 0, max: 21 }),
    })
    .map(({ entry, evil, evilLabel, otherScheme, otherPort, mask, shape }) => {
      const s = entry.scheme;
      const h = entry.host;
      const pp = entry.port === undefined ? '' : `:${entry.port}`;
      switch (shape) {
        case 0:
          return `${s}://${h}.${evil}${pp}`; // suffix: allowed host as a prefix of a foreign one
        case 1:
          return `${s}://${evilLabel}${h}${pp}`; // label glued on the front
        case 2:
          return `${s}://${evilLabel}.${h}${pp}`; // extra label (legit only for a wildcard base)
        case 3:
          return `${s}://${evilLabel}.${evilLabel}.${h}${pp}`; // two extra labels
        case 4:
          return `${s}://${h}.${pp}`; // trailing dot
        case 5:
          return `${otherScheme}://${h}${pp}`; // scheme swap
        case 6:
          return `${s}://${h}${otherPort === undefined ? '' : `:${otherPort}`}`; // port swap
        case 7:
          return `${s}://${h}:${entry.port ?? DEFAULT_PORT[s]}`; // explicit port (same tuple)
        case 8:
          return randomCase(`${s}://${h}${pp}`, mask); // case change (same tuple)
        case 9:
          return `${s}://${evil}@${h}${pp}`; // userinfo
        case 10:
          return `${s}://${h}${pp}@${evil}`; // allowed host as userinfo
        case 11:
          return `${s}://${h}${pp}/`; // trailing slash
        case 12:
          return `${s}://${h}${pp}/${evil}`; // path
        case 13:
          return `${s}://${h}${pp}?${evil}`; // query
        case 14:
          return ` ${s}://${h}${pp}`; // leading whitespace
        case 15:
          return `${s}://${h}${pp} `; // trailing whitespace
        case 16:
          return `${s}://${h}${evil}${pp}`; // allowed host glued to a foreign domain
        case 17:
          return `${s}://${h.replace(/\./g, '')}${pp}`; // dots removed
        case 18:
          return `${s}://${evil}${pp}`; // unrelated host, same scheme and port
        case 19: {
          const parent = h.includes('.') ? h.slice(h.indexOf('.') + 1) : evil;
          return `${s}://${parent}${pp}`; // parent domain / apex of a wildcard
        }
        case 20:
          return `${s}://*.${h}${pp}`; // a wildcard sent by the client
        default:
          return `${s}://${h}${pp}`; // the entry itself (the apex, for a wildcard)
      }
    });
}

const scenario = fc.array(entryArb, { minLength: 1, maxLength: 5 }).chain((list) =>
  fc.tuple(
    fc.constant(list),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: candidateFrom(list) },
        { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
        { weight: 1, arbitrary: fc.webUrl() },
        {
          weight: 1,
          arbitrary: fc.webUrl().map((u) => {
            try {
              return new URL(u).origin;
            } catch {
              return u;
            }
          }),
        },
      ),
      { minLength: 1, maxLength: 30 },
    ),
  ),
);

describe('origin matcher properties', () => {
  it('never accepts an origin whose scheme, host and port are outside the allowlist', () => {
    fc.assert(
      fc.property(scenario, ([list, candidates]) => {
        const matcher = createOriginMatcher({ allow: list.map(serialize) });
        for (const candidate of candidates) {
          if (matcher.check(candidate)) {
            expect(modelAllows(list, candidate), `accepted ${JSON.stringify(candidate)}`).toBe(
              true,
            );
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('agrees with the model on every adversarial candidate (no false refusals either)', () => {
    fc.assert(
      fc.property(
        fc
          .array(entryArb, { minLength: 1, maxLength: 5 })
          .chain((list) =>
            fc.tuple(fc.constant(list), fc.array(candidateFrom(list), { maxLength: 30 })),
          ),
        ([list, candidates]) => {
          const matcher = createOriginMatcher({ allow: list.map(serialize) });
          for (const candidate of candidates) {
            expect(matcher.check(candidate), JSON.stringify(candidate)).toBe(
              modelAllows(list, candidate),
            );
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('accepts every exact entry in any letter case and with its explicit default port', () => {
    fc.assert(
      fc.property(
        entryArb.filter((e) => !e.wildcard),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        (entry, mask) => {
          const matcher = createOriginMatcher({ allow: [serialize(entry)] });
          const p = entry.port ?? DEFAULT_PORT[entry.scheme]!;
          expect(matcher.check(serialize(entry))).toBe(true);
          expect(matcher.check(randomCase(`${entry.scheme}://${entry.host}:${p}`, mask))).toBe(
            true,
          );
        },
      ),
    );
  });

  it('a wildcard accepts exactly one extra label, never zero or two', () => {
    fc.assert(
      fc.property(
        entryArb.filter((e) => e.host.includes('.')).map((e) => ({ ...e, wildcard: true })),
        label,
        label,
        (entry, a, b) => {
          const matcher = createOriginMatcher({ allow: [serialize(entry)] });
          const pp = entry.port === undefined ? '' : `:${entry.port}`;
          expect(matcher.check(`${entry.scheme}://${a}.${entry.host}${pp}`)).toBe(true);
          expect(matcher.check(`${entry.scheme}://${entry.host}${pp}`)).toBe(false);
          expect(matcher.check(`${entry.scheme}://${a}.${b}.${entry.host}${pp}`)).toBe(false);
          expect(matcher.check(`${entry.scheme}://${a}.${entry.host}.${b}${pp}`)).toBe(false);
        },
      ),
    );
  });

  it('never accepts an arbitrary string against a fixed production-like list unless the model does', () => {
    const list: Entry[] = [
      { scheme: 'https', host: 'app.example.com', wildcard: false, port: undefined },
      { scheme: 'https', host: 'example.org', wildcard: true, port: undefined },
      { scheme: 'http', host: 'localhost', wildcard: false, port: 5173 },
    ];
    const matcher = createOriginMatcher({ allow: list.map(serialize) });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.webUrl(),
          fc
            .mixedCase(fc.constantFrom(...list.map(serialize)))
            .chain((o) =>
              fc
                .tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))
                .map(([x, y]) => x + o + y),
            ),
        ),
        (candidate) => {
          if (matcher.check(candidate)) expect(modelAllows(list, candidate)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
