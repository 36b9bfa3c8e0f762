/**
 * The nearest valid option name for an unknown key, across every level of a key table and the
 * aliases: a typo gets its fix in the doctor's message, not only a refusal.
 *
 * @module
 */
import { type KeyTable, MAX_TABLE_DEPTH } from './option-keys.ts';

/** A known name and where it lives (below the walk's own `path`), for suggestions. */
export interface Candidate {
  /** The name, lower-cased for a case-insensitive comparison. */
  readonly name: string;
  /** Its path in the table, the name last (an alias: its target's path). */
  readonly at: readonly string[];
}

/** Longer keys get no suggestion: no option name comes close, and the distance is quadratic. */
const MAX_SUGGESTED_LENGTH = 64;

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment): `kye`
 * is one typo from `key`. Three rows; both strings are short (see {@link MAX_SUGGESTED_LENGTH}).
 */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      let d = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (same ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (before[j - 2] ?? 0) + 1);
      }
      current[j] = d;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Every name of `table` at every level (table order), then the aliases. */
export function candidates(
  table: KeyTable,
  aliases: Readonly<Record<string, string>>,
): Candidate[] {
  const out: Candidate[] = [];
  const walk = (t: KeyTable, at: readonly string[]): void => {
    if (at.length > MAX_TABLE_DEPTH) return;
    for (const name of Object.keys(t)) {
      const path = [...at, name];
      out.push({ name: name.toLowerCase(), at: path });
      const rule = t[name];
      if (typeof rule === 'object') walk(rule, path);
    }
  };
  walk(table, []);
  for (const [alias, target] of Object.entries(aliases)) {
    out.push({ name: alias.toLowerCase(), at: target.split('.') });
  }
  return out;
}

function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The known name nearest to `key` across every level: case-insensitive edit distance within 40%
 * of the key's length, or a name the key is the start of (`ttl` for `ttlMs`). On a tie, the one
 * sharing the longest path with where the key was found, then the one at the nearest depth (a
 * top-level `origin` means `origins`, not `penalties.points.origin`), then the first in table order.
 */
export function nearest(
  key: string,
  at: readonly string[],
  all: readonly Candidate[],
): readonly string[] | undefined {
  if (key.length === 0 || key.length > MAX_SUGGESTED_LENGTH) return undefined;
  const name = key.toLowerCase();
  const limit = Math.floor(name.length * 0.4);
  let best: { score: readonly [number, number, number]; at: readonly string[] } | undefined;
  for (const c of all) {
    const d = distance(name, c.name);
    if (d > limit && !(name.length >= 3 && c.name.startsWith(name))) continue;
    // Lower is better, compared in order.
    const score = [d, -sharedPrefix(at, c.at), Math.abs(c.at.length - 1 - at.length)] as const;
    if (!best || before(score, best.score)) best = { score, at: c.at };
  }
  return best?.at;
}

function before(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
