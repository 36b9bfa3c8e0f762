/**
 * wsguard on real sockets, per runtime, side by side with crossws alone: `npx tsx
 * bench/runtimes.bench.ts [node] [bun] [deno]` (default: all three). Prints markdown tables.
 *
 * For each runtime a server process (`bench/runtime-server.ts`; on Node an esbuild bundle of it, as
 * users run the built package: see `bench/bundle.ts`) serves a guarded echo and a bare
 * crossws echo; this process drives both with `ws` clients over loopback, interleaved by the
 * harness (so drift falls on both alike):
 *
 * - echo: 8 clients, 8 frames in flight each, the 197-byte chat frame; ops = echoed frames; for
 *   reference, a bare server that `JSON.parse`s each frame (an app reading JSON) and a guarded
 *   one with `messages.json` off (every check but the parse and its shape checks);
 * - handshakes: 8 at a time, each from a rotating 127.x source address; ops = sockets opened
 *   (then cut with a reset, so no TIME_WAIT piles up); JWT in `Authorization` (one token reused,
 *   as a reconnecting client does, or a new one each time, signed outside the timed part), or a
 *   ticket in the query (issued in bulk outside the timed part), against a bare crossws handshake;
 *   the server-CPU table comes three times: as the processes run, with the driver and every
 *   server on one CPU (`bench/affinity.ts`: on two CPUs the slower server pays for waking its
 *   loopback client, which no deployed server does), and paced at `BENCH_PACE` handshakes/s
 *   (default 1,000), below what either side can do;
 * - Node only: memory per idle connection, server heap + external after a full GC, with 1,000
 *   idle sockets open, guarded (JWT) and bare.
 *
 * Before/after in one run: with `WSGUARD_BASE` naming a checkout of an older commit (its
 * `node_modules` may be a symlink to this one's), the base tree's `bench/runtime-server.ts` runs
 * too, on the same runtime and the same way (on Node a bundle built from the base tree's sources,
 * cached apart: see `bench/base-tree.ts`), and every guarded row comes twice, `before:` and
 * `after:`, interleaved with the others; the bare crossws rows (this checkout's server) stay as
 * the common reference, and each table gets an "after ÷ before" column (median and range over
 * rounds; for the CPU tables, of the CPU per operation):
 *
 * ```sh
 * git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/
 * WSGUARD_BASE=/tmp/base BENCH_TIME_MS=1500 npx tsx bench/runtimes.bench.ts node
 * ```
 *
 * Only some sections: `BENCH_SECTIONS=handshakes,memory` (any of `echo`, `handshakes`, `memory`;
 * default all), e.g. `BENCH_SECTIONS=handshakes,memory npx tsx bench/runtimes.bench.ts node`.
 *
 * Bounded: `BENCH_TIME_MS` per case (default 1500) in `BENCH_ROUNDS` rounds (default 10), and
 * the server-CPU tables' `BENCH_CPU_ROUNDS` rounds (default 5) of a fixed count each; every
 * server process is killed at the end, failure or interrupt alike (and exits by itself after 10
 * minutes).
 *
 * @module
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { onOneCpu } from './affinity.ts';
import { baseBundle, baseTree } from './base-tree.ts';
import { nodeBundle } from './bundle.ts';
import { type BenchCase, type Comparison, optionsFromEnv, runAll } from './harness.ts';
import { PAIR_LABEL, perSide, type Side, sidesOf } from './paired-rows.ts';
import { benchToken, issueTickets, serverCpu } from './runtime-server-client.ts';
import { killServers, type ServerProcess, startServer } from './server-process.ts';
import { echoClients, handshakes, nextAddress, wsUrl } from './socket-clients.ts';

type Runtime = 'node' | 'bun' | 'deno';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const SERVER = 'bench/runtime-server.ts';
/** The base tree's checkout (`WSGUARD_BASE`), if any: its rows are the `before:` ones. */
const beforeTree = baseTree([SERVER]);
/**
 * How each runtime starts the server of `tree` (this checkout or the base): the same binaries
 * for both; Node runs a bundle of it (see `bench/bundle.ts`), built from that tree's sources.
 */
const COMMANDS: Record<Runtime, (tree: string) => Promise<[string, string[]]>> = {
  node: async (tree) => [
    process.execPath,
    ['--expose-gc', tree === root ? await nodeBundle(SERVER) : await baseBundle(tree, SERVER)],
  ],
  bun: async (tree) => [bin('bun'), ['run', join(tree, SERVER)]],
  deno: async (tree) => [
    bin('deno'),
    ['run', '-A', '--quiet', '--v8-flags=--expose-gc', join(tree, SERVER)],
  ],
};

interface Server {
  readonly child: ServerProcess<unknown>['child'];
  readonly guarded: string;
  readonly guardedNoJson: string;
  readonly bare: string;
  readonly bareParse: string;
  /** `Authorization` with a JWT signed with the server's secret. */
  readonly bearer: Record<string, string>;
  /** That secret, to sign more tokens. */
  readonly secret: string;
}

async function start(runtime: Runtime, tree: string): Promise<Server> {
  const [command, args] = await COMMANDS[runtime](tree);
  const label = `${runtime}${tree === root ? '' : ' (base)'}`;
  const { child, info } = await startServer<Omit<Server, 'child' | 'bearer'> & { secret: string }>(
    label,
    command,
    args,
    tree,
  );
  return { child, ...info, bearer: { authorization: `Bearer ${await benchToken(info.secret)}` } };
}

interface CpuCase {
  readonly name: string;
  /** The process whose CPU this case spends. */
  readonly server: Server;
  /** Operations per round. */
  readonly n: number;
  /** Untimed preparation (e.g. issue tickets), done before the CPU is read. */
  readonly before?: (n: number) => void | Promise<void>;
  readonly run: (n: number) => void | Promise<void>;
  /** The case this one is paired with (its before row): adds after ÷ before of the CPU per op. */
  readonly against?: string;
}

/** Rounds of each server-CPU table (`BENCH_CPU_ROUNDS`, default 5); more hold the medians steadier. */
const CPU_ROUNDS = Math.max(3, Number(process.env.BENCH_CPU_ROUNDS ?? 5));
/** Handshakes a second of the paced CPU table (`BENCH_PACE`, default 1000): well below either side's rate. */
const PACE = Math.max(10, Number(process.env.BENCH_PACE ?? 1000));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const span = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/**
 * Server CPU per operation, one case at a time, rounds interleaved: a figure that does not depend
 * on how fast the driver is (it shares the two cores), so it moves less from run to run than the
 * rates. The first case is the baseline.
 */
async function cpuPerOp(title: string, cases: CpuCase[], rounds = CPU_ROUNDS) {
  const per: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      await c.before?.(c.n);
      const before = await serverCpu(c.server.bare);
      await c.run(c.n);
      per[i]!.push(((await serverCpu(c.server.bare)) - before) / c.n);
    }
  }
  const base = median(per[0]!);
  const pairs = cases.some((c) => c.against);
  const rows = cases.map((c, i) => {
    const m = median(per[i]!);
    const j = cases.findIndex((o) => o.name === c.against);
    const ratios = j < 0 ? [] : per[i]!.map((x, r) => x / per[j]![r]!);
    const paired = j < 0 ? ' – | – |' : ` ${median(ratios).toFixed(2)} | ${span(ratios, 2)} |`;
    return `| ${c.name} | ${m.toFixed(1)} | ${span(per[i]!, 1)} | ${i === 0 ? '**1** (baseline)' : (base / m).toFixed(2)} |${pairs ? paired : ''}`;
  });
  return [
    `### ${title}`,
    '',
    `| case | server CPU µs per op (median) | range | bare ÷ case |${pairs ? ` ${PAIR_LABEL}, CPU per op (median) | range |` : ''}`,
    `| --- | ---: | ---: | ---: |${pairs ? ' ---: | ---: |' : ''}`,
    ...rows,
  ].join('\n');
}

async function memory(bare: Server, sides: readonly Side<Server>[]): Promise<string> {
  const N = 1000;
  const mem = async (base: string) =>
    (await (await fetch(`${base}/mem`)).json()) as {
      heapUsed: number;
      external: number;
      sockets: number;
    };
  const rows: string[] = [];
  for (const [name, base, headers] of [
    ['bare crossws', bare.bare, {}],
    ...sides.map((s) => [`${s.prefix}guarded (JWT)`, s.server.guarded, s.server.bearer] as const),
  ] as const) {
    const before = await mem(base);
    const sockets: WebSocket[] = [];
    for (let i = 0; i < N; i += 50)
      sockets.push(
        ...(await Promise.all(
          Array.from(
            { length: 50 },
            () =>
              new Promise<WebSocket>((ok, fail) => {
                const ws = new WebSocket(wsUrl(base), {
                  perMessageDeflate: false,
                  localAddress: nextAddress(),
                  headers,
                });
                ws.once('open', () => ok(ws));
                ws.once('error', fail);
              }),
          ),
        )),
      );
    const after = await mem(base);
    if (after.sockets - before.sockets !== N) throw new Error(`${name}: ${after.sockets} open`);
    // Heap + external after a full GC: RSS moves in allocator-sized steps and is too noisy here.
    const heap = (after.heapUsed + after.external - before.heapUsed - before.external) / N;
    rows.push(`| ${name} | ${(heap / 1024).toFixed(1)} KiB |`);
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
  }
  return [
    '### Memory per idle connection (Node, 1,000 sockets, server after a full GC)',
    '',
    '| server | heap + external per socket |',
    '| --- | ---: |',
    ...rows,
  ].join('\n');
}

const opts = { ...optionsFromEnv(), chunkMs: 20 };

/** The echo table and its CPU table: bare rows on `server`, guarded rows on every side. */
async function echo(runtime: Runtime, server: Server, sides: readonly Side<Server>[]) {
  const open = await Promise.all(
    sides.map(async (s) => ({
      full: await echoClients(wsUrl(s.server.guarded), s.server.bearer),
      noJson: await echoClients(wsUrl(s.server.guardedNoJson), s.server.bearer),
    })),
  );
  const clients = new Map(sides.map((s, i) => [s.server, open[i]!]));
  const bareEcho = await echoClients(wsUrl(server.bare));
  const parseEcho = await echoClients(wsUrl(server.bareParse));
  const rows = (n?: number) => [
    { name: 'bare crossws', server, n, run: bareEcho.run },
    { name: 'bare crossws + JSON.parse in the app', server, n, run: parseEcho.run },
    ...perSide(sides, 'guarded, messages.json off', (s) => ({
      server: s,
      n,
      run: clients.get(s)!.noJson.run,
    })),
    ...perSide(sides, 'guarded (full checks)', (s) => ({
      server: s,
      n,
      run: clients.get(s)!.full.run,
    })),
  ];
  await runAll(
    [
      {
        title: `Echo on ${runtime}: 197-byte JSON frames, 8 clients × 8 in flight`,
        baseline: 'bare crossws',
        pairLabel: PAIR_LABEL,
        cases: rows(),
      },
    ],
    opts,
  );
  const title = `Server CPU per echoed frame on ${runtime} (${CPU_ROUNDS} rounds × 20,000 frames)`;
  console.log(`${await cpuPerOp(title, rows(20_000) as CpuCase[])}\n`);
  for (const c of [bareEcho, parseEcho, ...open.flatMap((o) => [o.full, o.noJson])]) c.close();
}

/** Ticket handshakes on `server`: tickets issued in bulk before each (untimed) chunk. */
function ticketHandshakes(server: Server, perSec?: number): Pick<BenchCase, 'before' | 'run'> {
  let tickets: string[] = [];
  return {
    before: async (n) => {
      tickets = await issueTickets(server.guarded, n);
    },
    run: (n) =>
      handshakes(n, () => ({ url: wsUrl(server.guarded, `/?ticket=${tickets.pop()}`) }), perSec),
  };
}

/**
 * JWT handshakes on `server`, each with a token never presented before (signed in bulk before
 * each untimed chunk): the verifier's cache of verified tokens never hits, as for a fleet of
 * clients each holding its own token. The `guarded, JWT` rows reuse one token, as a client
 * reconnecting with the token it holds does.
 */
function freshTokenHandshakes(server: Server, perSec?: number): Pick<BenchCase, 'before' | 'run'> {
  let bearers: string[] = [];
  return {
    async before(n) {
      bearers = await Promise.all(Array.from({ length: n }, () => benchToken(server.secret)));
    },
    run: (n) =>
      handshakes(
        n,
        () => ({
          url: wsUrl(server.guarded),
          headers: { authorization: `Bearer ${bearers.pop()}` },
        }),
        perSec,
      ),
  };
}

/** The handshake table and its CPU table: bare rows on `server`, guarded rows on every side. */
async function handshakeTables(runtime: Runtime, server: Server, sides: readonly Side<Server>[]) {
  const rows = (n?: number, perSec?: number) => [
    {
      name: 'bare crossws',
      server,
      n,
      run: (k: number) => handshakes(k, () => ({ url: wsUrl(server.bare) }), perSec),
    },
    ...perSide(sides, 'guarded, JWT (HS256)', (s) => ({
      server: s,
      n,
      run: (k: number) =>
        handshakes(k, () => ({ url: wsUrl(s.guarded), headers: s.bearer }), perSec),
    })),
    ...perSide(sides, 'guarded, JWT (HS256), a new token each', (s) => ({
      server: s,
      n,
      ...freshTokenHandshakes(s, perSec),
    })),
    ...perSide(sides, 'guarded, ticket', (s) => ({ server: s, n, ...ticketHandshakes(s, perSec) })),
  ];
  const comparison: Comparison = {
    title: `Handshakes on ${runtime}: 8 concurrent, open then reset`,
    baseline: 'bare crossws',
    pairLabel: PAIR_LABEL,
    cases: rows(),
  };
  await runAll([comparison], opts);
  const title = `Server CPU per handshake on ${runtime} (${CPU_ROUNDS} rounds × 1,000 handshakes)`;
  console.log(`${await cpuPerOp(title, rows(1000) as CpuCase[])}\n`);
  // Again with the driver and every server on one CPU: no process is charged for waking the
  // other on another CPU (bench/affinity.ts says why that favours the faster server).
  const pids = sides.map((s) => s.server.child.pid!);
  const pinnedTitle = `${title}, the servers and the driver on one CPU`;
  const pinned = await onOneCpu(pids, () => cpuPerOp(pinnedTitle, rows(1000) as CpuCase[]));
  console.log(
    `${pinned ?? `(${pinnedTitle}: not measured: no taskset here, or this run is on one CPU already)`}\n`,
  );
  // And paced, on both CPUs: below what either process can do, each side finds the other
  // asleep on every handshake, bare or guarded alike.
  const pacedTitle = `${title}, paced at ${PACE.toLocaleString('en')} handshakes/s`;
  console.log(`${await cpuPerOp(pacedTitle, rows(1000, PACE) as CpuCase[])}\n`);
}

type Section = 'echo' | 'handshakes' | 'memory';
const sections = new Set<Section>(
  (process.env.BENCH_SECTIONS ?? 'echo,handshakes,memory').split(',') as Section[],
);
const selected = (process.argv.slice(2) as Runtime[]).filter((r) => r in COMMANDS);
const runtimes: Runtime[] = selected.length > 0 ? selected : ['node', 'bun', 'deno'];
const started = performance.now();
if (beforeTree) console.log(`before: ${beforeTree}\nafter: this checkout (${root})\n`);
try {
  for (const runtime of runtimes) {
    const server = await start(runtime, root);
    const before = beforeTree ? await start(runtime, beforeTree) : undefined;
    const sides = sidesOf(server, before);
    console.log(`## ${runtime}\n`);
    if (sections.has('echo')) await echo(runtime, server, sides);
    if (sections.has('handshakes')) await handshakeTables(runtime, server, sides);
    if (runtime === 'node' && sections.has('memory'))
      console.log(`${await memory(server, sides)}\n`);
    for (const s of sides) s.server.child.kill('SIGKILL');
  }
} finally {
  killServers();
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
