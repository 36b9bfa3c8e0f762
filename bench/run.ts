/**
 * Run the benchmarks and print markdown tables: `npm run bench` (all), or
 * `npm run bench -- limiter jwt` (some). `BENCH_TIME_MS` sets the measured time per case
 * (default 1500), `BENCH_ROUNDS` the number of interleaved rounds (default 10).
 *
 * @module
 */
import { guardComparisons } from './guard.bench.ts';
import { type Comparison, optionsFromEnv, runAll } from './harness.ts';
import { jwtComparisons } from './jwt.bench.ts';
import { limiterComparisons } from './limiter.bench.ts';

const suites: Record<string, () => Comparison[] | Promise<Comparison[]>> = {
  limiter: limiterComparisons,
  jwt: jwtComparisons,
  guard: guardComparisons,
};

const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = args.filter((a) => !(a in suites));
if (unknown.length > 0) {
  console.error(
    `unknown suite(s): ${unknown.join(', ')}; choose from ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
const selected = args.length > 0 ? args : Object.keys(suites);
const opts = optionsFromEnv();
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno
  ? `Deno ${g.Deno.version.deno}`
  : g.Bun
    ? `Bun ${g.Bun.version}`
    : `Node ${process.version}`;
const started = performance.now();

console.log(
  `wsguard benchmarks — ${runtime}, ${process.platform}/${process.arch}, ` +
    `${(await import('node:os')).availableParallelism()} cores; ` +
    `${opts.timeMs} ms per case in ${opts.rounds} interleaved rounds after ${opts.warmupMs} ms warm-up\n`,
);
for (const name of selected) {
  console.log(`## ${name}\n`);
  await runAll(await suites[name]!(), opts);
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
