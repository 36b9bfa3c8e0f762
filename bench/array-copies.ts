/**
 * Two array copies on every handshake, each beside the runtime call it replaced (Node, plain
 * loops): keeping a connection's first and second lease (`src/state/caps.ts`: `concat` against
 * array literals) and copying a deep-frozen claim array (`src/auth/principal.ts`: `slice`
 * against a spread). Bounded: 2 rounds × 4 cases × 2,000,000 iterations.
 *
 * ```sh
 * npx tsx bench/array-copies.ts
 * ```
 *
 * @module
 */
type Lease = readonly [string, string];
const NONE: readonly Lease[] = Object.freeze([]);
const byConcat = (held: readonly Lease[], l: Lease) => held.concat([l]);
const byLiteral = (held: readonly Lease[], l: Lease) =>
  held.length === 0 ? [l] : held.length === 1 ? [held[0]!, l] : held.concat([l]);
const roles: readonly string[] = Object.freeze(['user', 'admin']);

const N = 2_000_000;
const cases: Record<string, () => number> = {
  'two leases, concat': () =>
    byConcat(byConcat(NONE, ['lease:ip:a', 'id']), ['lease:user:b', 'id']).length,
  'two leases, literals': () =>
    byLiteral(byLiteral(NONE, ['lease:ip:a', 'id']), ['lease:user:b', 'id']).length,
  'frozen claim array, slice': () => roles.slice().length,
  'frozen claim array, spread': () => [...roles].length,
};
for (let round = 0; round < 2; round++) {
  for (const [name, f] of Object.entries(cases)) {
    let sink = 0;
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sink += f();
    const ns = Number(process.hrtime.bigint() - t) / N;
    // The first round warms up; the second is the figure.
    if (round === 1) console.log(`${name}: ${ns.toFixed(1)} ns${sink < 0 ? ' ' : ''}`);
  }
}
