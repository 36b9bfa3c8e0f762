/**
 * Before/after rows for the socket benches: with a base tree (`WSGUARD_BASE`), each guarded case
 * runs twice in one table, as `before: <case>` on the base tree's server and `after: <case>` on
 * this checkout's, the after row paired with the before row (`BenchCase.against`), so the table
 * shows after ÷ before round by round. Without a base tree, one row per case, named as before.
 *
 * @module
 */

/** A server of one side of the run and the prefix of its rows. */
export interface Side<S> {
  /** `before: `, `after: `, or nothing when there is no base tree. */
  readonly prefix: string;
  /** That side's server. */
  readonly server: S;
}

/** Heading of the paired-ratio column. */
export const PAIR_LABEL = 'after ÷ before';

/** The sides of a run: before then after (so the before row comes first), or after alone. */
export function sidesOf<S>(after: S, before: S | undefined): readonly Side<S>[] {
  return before
    ? [
        { prefix: 'before: ', server: before },
        { prefix: 'after: ', server: after },
      ]
    : [{ prefix: '', server: after }];
}

/** One row per side for case `name`, built by `make` from the side's server. */
export function perSide<S, R>(
  sides: readonly Side<S>[],
  name: string,
  make: (server: S) => R,
): (R & { readonly name: string; readonly against?: string })[] {
  return sides.map((side) => ({
    ...make(side.server),
    name: `${side.prefix}${name}`,
    ...(side.prefix === 'after: ' ? { against: `before: ${name}` } : {}),
  }));
}
