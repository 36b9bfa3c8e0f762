/**
 * The guard's handshake and message cases (bench/guard.bench.ts) of two source trees side by side,
 * interleaved in one run: this checkout ("after") against another commit's checkout ("before"),
 * so a change's cost on the hot paths is a ratio measured under the same load, not two numbers
 * from two runs.
 *
 * ```sh
 * git worktree add /tmp/wsguard-base <commit> && ln -s "$PWD/node_modules" /tmp/wsguard-base/
 * WSGUARD_BASE=/tmp/wsguard-base BENCH_TIME_MS=1500 npx tsx bench/before-after.ts
 * ```
 *
 * Each tree's bench module imports its own `src/`, so both guards run with their own code and
 * the same inputs and defaults. A ratio of 1.00 means no difference; the range is per round.
 *
 * @module
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BenchCase, type Comparison, optionsFromEnv, runAll } from './harness.ts';

type Suite = { guardComparisons: () => Promise<Comparison[]> };

const base = process.env['WSGUARD_BASE'];
if (!base) {
  console.error('WSGUARD_BASE: the path of a checkout of the commit to compare against');
  process.exit(2);
}
const load = (dir: string): Promise<Suite> =>
  import(pathToFileURL(resolve(dir, 'bench/guard.bench.ts')).href) as Promise<Suite>;
const [before, after] = await Promise.all([load(base), load(resolve(import.meta.dirname, '..'))]);
const [b, a] = await Promise.all([before.guardComparisons(), after.guardComparisons()]);

// A case's `verify` may count what another case of its own comparison did (parseFrame checks that
// JSON.parse ran): with the cases regrouped in pairs, every check runs once, after everything.
const checks: (() => void)[] = [];
const renamed = (prefix: string, c: BenchCase): BenchCase => {
  if (c.verify) checks.push(c.verify);
  const { verify: _, ...rest } = c;
  return { ...rest, name: `${prefix}: ${c.name}` };
};
const pairs: Comparison[] = [];
b.forEach((cmp, i) => {
  cmp.cases.forEach((beforeCase, j) => {
    const afterCase = a[i]?.cases[j];
    if (!afterCase || afterCase.name !== beforeCase.name) return;
    // The reference rows (verification alone, JSON.parse) have no guard code in them: they stay,
    // as a control that shows the run's noise (both sides run the same code).
    pairs.push({
      title: `${cmp.title} — ${beforeCase.name}`,
      baseline: `before: ${beforeCase.name}`,
      cases: [renamed('before', beforeCase), renamed('after', afterCase)],
    });
  });
});
console.log(`before: ${base}\nafter: this checkout\n`);
await runAll(pairs, optionsFromEnv());
for (const check of checks) check();
