/**
 * Who pays for waking the other process: the Node bench server's CPU per handshake, and the part
 * of it spent waking a sleeping reader, under `perf`, with the server and this driver on two CPUs
 * and on one (`bench/affinity.ts`). Linux with `perf` only (it says so and exits otherwise).
 *
 * ```sh
 * npx tsx bench/handshake-wakeups.ts            # 10,000 handshakes a case and layout
 * BENCH_N=20000 npx tsx bench/handshake-wakeups.ts
 * ```
 *
 * The server is `bench/runtime-server.ts` bundled as users run it (`bench/bundle.ts`). For each
 * case (bare crossws, guarded with a ticket, guarded with one JWT reused) and each layout, after
 * `BENCH_N` / 2 warm-up handshakes, `perf record -F 2999` samples the server through `BENCH_N`
 * more; a sample counts as a wake-up when the kernel was in `_raw_spin_unlock_irqrestore` (where
 * a VM's cross-CPU wake-up, interrupts held off meanwhile, is seen). Figures are µs per
 * handshake as measured under `perf`, which inflates every one of them (~1.4×): read the
 * differences between rows. Bounded: 3 cases × 2 layouts × 1.5 × `BENCH_N` handshakes.
 *
 * @module
 */
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allowedCpus, onOneCpu } from './affinity.ts';
import { nodeBundle } from './bundle.ts';
import { benchToken, issueTickets, serverCpu } from './runtime-server-client.ts';
import { killServers, startServer } from './server-process.ts';
import { handshakes, wsUrl } from './socket-clients.ts';

const N = Math.max(1000, Number(process.env.BENCH_N ?? 10_000));

interface Info {
  readonly guarded: string;
  readonly bare: string;
  readonly secret: string;
}

const hasPerf = (() => {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasPerf || allowedCpus() === undefined) {
  console.log('handshake-wakeups: needs Linux and `perf`; not measured');
  process.exit(0);
}

const js = await nodeBundle('bench/runtime-server.ts');
const { child, info } = await startServer<Info>('node', process.execPath, [js], process.cwd());
const pid = child.pid!;
const cpus = allowedCpus()!;
const cpu = (): Promise<number> => serverCpu(info.bare);
const bearer = `Bearer ${await benchToken(info.secret)}`;

/** `n` handshakes of a case, made ready (tickets issued) before the returned run starts. */
type Case = (n: number) => Promise<() => Promise<void>>;
const cases: Record<string, Case> = {
  'bare crossws': async (n) => () => handshakes(n, () => ({ url: wsUrl(info.bare) })),
  'guarded, ticket': async (n) => {
    const tickets = await issueTickets(info.guarded, n);
    return () => handshakes(n, () => ({ url: wsUrl(info.guarded, `/?ticket=${tickets.pop()}`) }));
  },
  'guarded, JWT (HS256) reused': async (n) => () =>
    handshakes(n, () => ({ url: wsUrl(info.guarded), headers: { authorization: bearer } })),
};

/** Samples in all, and those in the wake-up's `irqrestore`, of a `perf record` file. */
function count(file: string): { all: number; wakeups: number } {
  // One line a sample (recorded without call chains): its task, time, event, address, symbol.
  const text = execFileSync('perf', ['script', '-i', file], {
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const lines = text.split('\n').filter((l) => l.includes('cpu-clock'));
  const wakeups = lines.filter((l) => l.includes('_raw_spin_unlock_irqrestore')).length;
  return { all: lines.length, wakeups };
}

async function measure(name: string): Promise<[number, number]> {
  await (await cases[name]!(N >> 1))();
  const run = await cases[name]!(N);
  const file = join(tmpdir(), `wsguard-wakeups-${process.pid}.data`);
  // perf itself keeps every CPU, pinned run or not: it must not compete with the two measured.
  const perf = spawn(
    'taskset',
    ['-c', cpus, 'perf', 'record', '-F', '2999', '-o', file, '-p', String(pid)],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((r) => setTimeout(r, 500));
  const c0 = await cpu();
  await run();
  const perOp = ((await cpu()) - c0) / N;
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
  const { all, wakeups } = count(file);
  rmSync(file, { force: true });
  return [perOp, all > 0 ? (perOp * wakeups) / all : 0];
}

try {
  const rows: string[] = [];
  for (const name of Object.keys(cases)) {
    const [two, twoWake] = await measure(name);
    const pinned = await onOneCpu([pid], () => measure(name));
    const [one, oneWake] = pinned ?? [Number.NaN, Number.NaN];
    rows.push(
      `| ${name} | ${two.toFixed(1)} | ${twoWake.toFixed(1)} | ${one.toFixed(1)} | ${oneWake.toFixed(1)} |`,
    );
  }
  console.log(
    [
      `### Server CPU per handshake under perf, and its wake-ups (${N.toLocaleString('en')} handshakes a row)`,
      '',
      '| case | two CPUs: CPU µs | of it waking (irqrestore) | one CPU: CPU µs | of it waking |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n'),
  );
} finally {
  killServers();
}
