/**
 * The soak, long form: `npm run soak` (`tsx bench/soak/run.ts [node] [bun] [deno]`, default all
 * three). Per runtime: a soak server process (`soak-server.ts`), 10,000 connect/authenticate/close
 * cycles and 1,000,000 frames from good and hostile clients (`driver.ts`), a memory sample after a
 * forced GC in each of 40 rounds, then the verdicts (`checks.ts`). Writes the samples
 * (`bench/soak/samples.json`) and the chart (`docs/soak-memory.svg`); exits 1 when a verdict fails.
 *
 * Environment: `SOAK_PLAN=short` for the short form's size (and bounds); `SOAK_STORE=redis` (with
 * `REDIS_URL`) for the Redis store; `SOAK_OUT` and `SOAK_CHART` for other output paths (`-` for
 * none); `SOAK_EXCLUDE=kind,…` leaves cycle kinds out (an investigation); `SOAK_SNAPSHOTS=<dir>` and
 * `SOAK_SNAPSHOT_ROUNDS=9,39` write heap snapshots after those rounds; `SOAK_LEAK=connections` or
 * `SOAK_LEAK_BYTES=N` make the server's app keep what it should not (control runs: they must fail).
 *
 * Bounded: every server exits after 15 minutes by itself, and is stopped at the end either way.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mib, ROW_HEADER, row } from './analysis.ts';
import { memoryChart } from './chart.ts';
import { checks, LONG_BOUNDS, SHORT_BOUNDS } from './checks.ts';
import type { CycleKind } from './cycles.ts';
import { type SoakResult, soak } from './driver.ts';
import { PROFILES } from './known.ts';
import { LONG, SHORT } from './plan.ts';
import { RUNTIMES, type Runtime, startSoakServer } from './server-process.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = process.env;
const short = env.SOAK_PLAN === 'short';
const plan = short ? SHORT : LONG;
/**
 * The servers' idle timeout (s). Deno keeps a socket whose client vanished without a close
 * handshake until the idle timeout pings it out: short enough that those turn over several times
 * within a run, so the curve shows their steady state rather than their pile-up.
 */
const IDLE_TIMEOUT = short ? 2 : 10;
const args = process.argv.slice(2);
const runtimes = (args.length > 0 ? args : RUNTIMES).filter((r): r is Runtime =>
  RUNTIMES.includes(r as Runtime),
);
const out = (name: string, fallback: string): string | undefined =>
  env[name] === '-' ? undefined : resolve(root, env[name] ?? fallback);

const started = Date.now();
const results: SoakResult[] = [];
const lines: string[] = [];
let failed = 0;
for (const runtime of runtimes) {
  const profile = PROFILES[runtime];
  const server = await startSoakServer(runtime, {
    SOAK_IDLE_TIMEOUT: String(IDLE_TIMEOUT),
    ...(env.SOAK_STORE ? { SOAK_STORE: env.SOAK_STORE } : {}),
    ...(env.SOAK_SNAPSHOTS ? { SOAK_SNAPSHOTS: env.SOAK_SNAPSHOTS } : {}),
    // The control runs: the app keeps what it should not, and the run must fail.
    ...(env.SOAK_LEAK ? { SOAK_LEAK: env.SOAK_LEAK } : {}),
    ...(env.SOAK_LEAK_BYTES ? { SOAK_LEAK_BYTES: env.SOAK_LEAK_BYTES } : {}),
  });
  let result: SoakResult;
  try {
    result = await soak(runtime, server.url, plan, {
      log: (line) => console.log(line),
      lingering: Object.keys(profile.lingering),
      allow: profile.allow,
      // Long enough for what Deno keeps until the idle timeout, and for the hooks' 5 s close timer.
      settleMs: Math.max(20_000, IDLE_TIMEOUT * 2000),
      exclude: (env.SOAK_EXCLUDE?.split(',') ?? []) as CycleKind[],
      snapshots: env.SOAK_SNAPSHOT_ROUNDS?.split(',').map(Number) ?? [],
    });
  } finally {
    await server.stop();
    if (server.stderr()) console.error(`[soak ${runtime}] server stderr:\n${server.stderr()}`);
  }
  results.push(result);
  const verdict = checks(result, profile, short ? SHORT_BOUNDS[runtime] : LONG_BOUNDS);
  lines.push(`### ${runtime}`, '');
  for (const c of verdict.checks) {
    if (!c.ok) failed++;
    lines.push(`- ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  }
  for (const [kind, why] of Object.entries(profile.lingering))
    lines.push(
      `- note: ${kind} objects the runtime keeps: ${result.final.retainedByKind[kind] ?? 0} (${why})`,
    );
  for (const [attack, { outcomes, why }] of Object.entries(profile.allow))
    lines.push(`- note: ${attack} may end ${outcomes.join(', ')} here (${why})`);
  const s = result.final.stats;
  lines.push(
    `- ${result.cycles.done} cycles, ${result.frames.sent} frames (${result.frames.hostile} hostile), ` +
      `${s.accepted} accepted, ${s.messages} messages delivered, ${s.bans} bans; ` +
      `heap at end ${mib(result.final.heapUsed)} MiB, RSS ${mib(result.final.rss)} MiB`,
    '',
  );
}

const subtitle =
  `${plan.cycles.toLocaleString('en')} cycles and ${plan.frames.toLocaleString('en')} frames per runtime, ` +
  `${env.SOAK_STORE === 'redis' ? 'Redis' : 'memory'} store, ${cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`;
const samplesFile = out('SOAK_OUT', 'bench/soak/samples.json');
// Per sample, the lease counts only (the final state keeps which keys held them).
const slim = results.map((r) => ({
  ...r,
  samples: r.samples.map(({ leases, ...rest }) => ({
    ...rest,
    leases: { ip: leases.ip, user: leases.user },
  })),
}));
if (samplesFile)
  writeFileSync(samplesFile, `${JSON.stringify({ subtitle, results: slim }, null, 2)}\n`);
const chartFile = out('SOAK_CHART', 'docs/soak-memory.svg');
if (chartFile && results.length > 0) writeFileSync(chartFile, memoryChart(results, subtitle));

console.log(
  [
    '',
    `## Soak: ${subtitle}`,
    '',
    ROW_HEADER,
    ...results.map(row),
    '',
    ...lines,
    `total ${((Date.now() - started) / 1000).toFixed(0)} s${samplesFile ? `; samples ${samplesFile}` : ''}${chartFile ? `; chart ${chartFile}` : ''}`,
  ].join('\n'),
);
if (failed > 0) {
  console.error(`soak: ${failed} verdict(s) failed`);
  process.exitCode = 1;
}
