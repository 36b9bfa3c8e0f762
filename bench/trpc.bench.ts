/**
 * wsguard's tRPC bridge side by side with tRPC's own `applyWSSHandler` on `ws` (no security at
 * all), on Node: `npx tsx bench/trpc.bench.ts` (`--no-bun` leaves out the Bun row; name sections
 * to run some: `mutations events latency memory`). Prints markdown tables.
 *
 * Two server processes (`bench/trpc-server.ts guarded|trpc`, bundled with esbuild and run by
 * `node --expose-gc`) serve the same router (`bench/trpc-router.ts`); this process drives both
 * over loopback with `ws` clients speaking tRPC's wire protocol (raw frames, so client overhead
 * is the same for both and small: `bench/trpc-clients.ts`):
 *
 * - mutations/s: `add` with zod input at 1 connection (8 calls in flight) and 50 connections
 *   (2 in flight each), one call per frame; guarded: JWT auth, every message check, permission
 *   from `meta`, `rateLimit` middleware. Interleaved rounds (bench/harness.ts); plus each
 *   server's CPU time per call;
 * - subscription events/s: one subscriber, `burst` of n events until `stopped`; plus guarded with
 *   `eventOutput` validation, and (optional) the guarded server under Bun;
 * - another client's round trip during a burst (`bench/trpc-latency.ts`): p50/p99 idle vs during
 *   a 100,000-event burst, 3 bursts per server, and a control row;
 * - memory per idle connection: 1,000 open sockets, server heap + external after a full GC.
 *
 * Before/after in one run: with `WSGUARD_BASE` naming a checkout of an older commit (its
 * `node_modules` may be a symlink to this one's), the base tree's `bench/trpc-server.ts guarded`
 * runs too, started the same way (on Node a bundle built from the base tree's sources, cached
 * apart: see `bench/base-tree.ts`; on Bun its sources), and every guarded row comes twice,
 * `before:` and `after:`, interleaved with the others; tRPC's own server stays the common
 * baseline, and the tables get an "after ÷ before" column (median and range over rounds; for
 * CPU, of the CPU per call). The latency and memory sections add a `before:` row (one after the
 * other, not interleaved):
 *
 * ```sh
 * git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/
 * WSGUARD_BASE=/tmp/base BENCH_TIME_MS=1500 npx tsx bench/trpc.bench.ts
 * ```
 *
 * Bounded: `BENCH_TIME_MS` per case (default 1500) in `BENCH_ROUNDS` rounds (default 10), about
 * a minute in all (more with a base tree); every child is killed at the end, failure or
 * interrupt alike (and exits by itself after 5 minutes).
 *
 * @module
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { baseBundle, baseTree } from './base-tree.ts';
import { nodeBundle } from './bundle.ts';
import { type Comparison, optionsFromEnv, runAll } from './harness.ts';
import { PAIR_LABEL, perSide, type Side, sidesOf } from './paired-rows.ts';
import { killServers, startServer, track } from './server-process.ts';
import { mutationClients, openMany, type Server, subscriber } from './trpc-clients.ts';
import { latency, percentile } from './trpc-latency.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bunBin = join(root, 'node_modules/.bin/bun');
const SERVER = 'bench/trpc-server.ts';
/** The base tree's checkout (`WSGUARD_BASE`), if any: its rows are the `before:` ones. */
const beforeTree = baseTree([SERVER]);
const GUARDED = 'wsguard bridge (every check on)';
const BUN = 'wsguard bridge on Bun';

const sign = (secret: string) =>
  new SignJWT({ roles: ['bench'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));

/** Start `trpc-server.ts <mode>` of `tree` (cwd) with `command args`. */
async function start(name: string, command: string, args: string[], tree: string) {
  const { child, info } = await startServer<{ url: string; secret: string; mode: string }>(
    name,
    command,
    args,
    tree,
  );
  const headers: Record<string, string> =
    info.mode === 'guarded' ? { authorization: `Bearer ${await sign(info.secret)}` } : {};
  return { name, child, url: info.url.replace(/^http/, 'ws'), headers } satisfies Server;
}

/** A row of a CPU table: the server it measures, paired with its before row if it has one. */
interface CpuRow {
  readonly name: string;
  readonly server: Server;
  readonly against?: string;
}

/** Server CPU time per mutation (µs), 50 connections × 2 in flight, 5 interleaved runs each. */
async function cpuPerMutation(rows: readonly CpuRow[]): Promise<string> {
  const N = 20_000;
  const cpu = async (server: Server) =>
    ((await (await fetch(`${server.url.replace(/^ws/, 'http')}/cpu`)).json()) as { us: number }).us;
  const clients = await Promise.all(rows.map((s) => mutationClients(s.server, 50, 2)));
  const samples: number[][] = rows.map(() => []);
  for (let i = 0; i < rows.length; i++) await clients[i]!.run(N); // warm
  for (let round = 0; round < 5; round++)
    for (let k = 0; k < rows.length; k++) {
      const i = (round + k) % rows.length;
      const before = await cpu(rows[i]!.server);
      await clients[i]!.run(N);
      samples[i]!.push(((await cpu(rows[i]!.server)) - before) / N);
    }
  for (const c of clients) {
    c.verify();
    c.close();
  }
  const base = percentile(samples[0]!, 50);
  const pairs = rows.some((r) => r.against);
  const span = (xs: number[], digits: number) =>
    `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  return [
    `### Server CPU per mutation (50 connections × 2 in flight, ${N.toLocaleString('en')} calls × 5 interleaved runs)`,
    '',
    `| server | CPU µs per call (median) | runs min–max | × baseline |${pairs ? ` ${PAIR_LABEL}, CPU per call (median) | range |` : ''}`,
    `| --- | ---: | ---: | ---: |${pairs ? ' ---: | ---: |' : ''}`,
    ...rows.map((s, i) => {
      const xs = samples[i]!;
      const med = percentile(xs, 50);
      const j = rows.findIndex((o) => o.name === s.against);
      const ratios = j < 0 ? [] : xs.map((x, r) => x / samples[j]![r]!);
      const paired =
        j < 0 ? ' – | – |' : ` ${percentile(ratios, 50).toFixed(2)} | ${span(ratios, 2)} |`;
      return `| ${s.name} | ${med.toFixed(1)} | ${span(xs, 1)} | ${i === 0 ? '**1** (baseline)' : (med / base).toFixed(2)} |${pairs ? paired : ''}`;
    }),
  ].join('\n');
}

async function memory(servers: Server[]): Promise<string> {
  const N = 1000;
  const mem = async (server: Server) =>
    (await (await fetch(`${server.url.replace(/^ws/, 'http')}/mem`)).json()) as {
      heapUsed: number;
      external: number;
      sockets: number;
    };
  const rows: string[] = [];
  for (const server of servers) {
    const before = await mem(server);
    const sockets = await openMany(server, N);
    await new Promise((r) => setTimeout(r, 200));
    const after = await mem(server);
    if (after.sockets - before.sockets !== N)
      throw new Error(`${server.name}: ${after.sockets - before.sockets} sockets open`);
    const perSocket = (after.heapUsed + after.external - before.heapUsed - before.external) / N;
    rows.push(
      `| ${server.name} | ${(perSocket / 1024).toFixed(1)} KiB | ${Math.round(perSocket)} |`,
    );
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
  }
  return [
    `### Memory per idle connection (Node, ${N.toLocaleString('en')} sockets, server heap + external after a full GC)`,
    '',
    '| server | per connection | bytes |',
    '| --- | ---: | ---: |',
    ...rows,
  ].join('\n');
}

const opts = { ...optionsFromEnv(), chunkMs: 20 };

/** Mutations/s at 1 × 8 and 50 × 2, then CPU per call: tRPC's server, then each guarded one. */
async function mutations(trpc: Server, sides: readonly Side<Server>[]) {
  for (const [conns, inflight] of [
    [1, 8],
    [50, 2],
  ] as const) {
    const theirs = await mutationClients(trpc, conns, inflight);
    const ours = await Promise.all(sides.map((s) => mutationClients(s.server, conns, inflight)));
    const bySide = new Map(sides.map((s, i) => [s.server, ours[i]!]));
    await runAll(
      [
        {
          title: `Mutations/s, ${conns} connection${conns > 1 ? 's' : ''} × ${inflight} in flight`,
          baseline: trpc.name,
          pairLabel: PAIR_LABEL,
          cases: [
            { name: trpc.name, run: theirs.run, verify: theirs.verify },
            ...perSide(sides, GUARDED, (s) => {
              const c = bySide.get(s)!;
              return { run: c.run, verify: c.verify };
            }),
          ],
        },
      ],
      opts,
    );
    theirs.close();
    for (const c of ours) c.close();
  }
  const rows = [
    { name: trpc.name, server: trpc },
    ...perSide(sides, GUARDED, (s) => ({ server: s })),
  ];
  console.log(`${await cpuPerMutation(rows)}\n`);
}

/** Subscription events/s, one subscriber per row. */
async function events(
  trpc: Server,
  sides: readonly Side<Server>[],
  bunSides: readonly Side<Server>[],
) {
  const subs = [
    { server: trpc, path: 'burst', name: trpc.name },
    ...perSide(sides, GUARDED, (s) => ({ server: s, path: 'burst' })),
    ...perSide(sides, 'wsguard bridge + eventOutput(z.number())', (s) => ({
      server: s,
      path: 'burstChecked',
    })),
    ...perSide(bunSides, BUN, (s) => ({ server: s, path: 'burst' })),
  ];
  const subscribers = await Promise.all(subs.map((s) => subscriber(s.server, s.path)));
  const comparison: Comparison = {
    title: 'Subscription events/s, one subscriber',
    baseline: trpc.name,
    pairLabel: PAIR_LABEL,
    cases: subs.map((s, i) => ({
      name: s.name,
      run: subscribers[i]!.run,
      verify: subscribers[i]!.verify,
      against: 'against' in s ? s.against : undefined,
    })),
  };
  await runAll([comparison], opts);
  for (const s of subscribers) s.close();
}

/** The guarded servers of each side: this checkout's, and the base tree's before it if any. */
async function guardedSides(
  name: string,
  command: (tree: string) => Promise<[string, string[]]>,
): Promise<readonly Side<Server>[]> {
  const after = await start(
    `${beforeTree ? 'after: ' : ''}${name}`,
    ...(await command(root)),
    root,
  );
  const before = beforeTree
    ? await start(`before: ${name}`, ...(await command(beforeTree)), beforeTree)
    : undefined;
  return sidesOf<Server>(after, before);
}
const nodeServer = async (tree: string): Promise<[string, string[]]> => [
  process.execPath,
  ['--expose-gc', tree === root ? await nodeBundle(SERVER) : await baseBundle(tree, SERVER)],
];

const SECTIONS = ['mutations', 'events', 'latency', 'memory'] as const;
const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = asked.filter((a) => !(SECTIONS as readonly string[]).includes(a));
if (unknown.length > 0) {
  console.error(`unknown section(s): ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const run = (section: (typeof SECTIONS)[number]): boolean =>
  asked.length === 0 || asked.includes(section);
const started = performance.now();
const withBun = run('events') && !process.argv.includes('--no-bun') && existsSync(bunBin);
if (beforeTree) console.log(`before: ${beforeTree}\nafter: this checkout (${root})\n`);
try {
  const [node, nodeArgs] = await nodeServer(root);
  const trpc = await start(
    "tRPC's applyWSSHandler (ws, no security)",
    node,
    [...nodeArgs, 'trpc'],
    root,
  );
  const sides = await guardedSides(GUARDED, async (tree) => {
    const [command, args] = await nodeServer(tree);
    return [command, [...args, 'guarded']];
  });
  const bunSides = withBun
    ? await guardedSides(BUN, async (tree) => [bunBin, ['run', join(tree, SERVER), 'guarded']])
    : [];
  console.log(
    `wsguard tRPC benchmarks — Node ${process.version}, ${process.platform}/${process.arch}, ` +
      `${(await import('node:os')).availableParallelism()} cores\n`,
  );
  if (run('mutations')) await mutations(trpc, sides);
  if (run('events')) await events(trpc, sides, bunSides);
  if (run('latency')) {
    const burster = track(
      fork(join(root, 'bench/trpc-burster.ts'), [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const guarded = sides.map((s) => s.server);
    console.log(`${await latency(trpc, guarded, burster)}\n`);
    burster.send({ type: 'exit' });
  }
  if (run('memory')) console.log(`${await memory([trpc, ...sides.map((s) => s.server)])}\n`);
} finally {
  killServers();
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
