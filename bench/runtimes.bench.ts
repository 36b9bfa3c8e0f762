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
 *   (then cut with a reset, so no TIME_WAIT piles up); JWT in `Authorization`, or a ticket in
 *   the query (issued in bulk outside the timed part), against a bare crossws handshake;
 * - Node only: memory per idle connection, server heap + external after a full GC, with 1,000
 *   idle sockets open, guarded (JWT) and bare.
 *
 * Bounded: `BENCH_TIME_MS` per case (default 1500) in `BENCH_ROUNDS` rounds (default 10); every
 * server process is killed at the end (and exits by itself after 10 minutes).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { nodeBundle } from './bundle.ts';
import { CHAT_FRAME } from './guard.bench.ts';
import { type BenchCase, type Comparison, optionsFromEnv, runAll } from './harness.ts';

type Runtime = 'node' | 'bun' | 'deno';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const SERVER = 'bench/runtime-server.ts';
/** How each runtime starts the server: Node runs a bundle of it (see `bench/bundle.ts`). */
const COMMANDS: Record<Runtime, () => Promise<[string, string[]]>> = {
  node: async () => [process.execPath, ['--expose-gc', await nodeBundle(SERVER)]],
  bun: async () => [bin('bun'), ['run', join(root, SERVER)]],
  deno: async () => [
    bin('deno'),
    ['run', '-A', '--quiet', '--v8-flags=--expose-gc', join(root, SERVER)],
  ],
};

interface Server {
  readonly child: ChildProcess;
  readonly guarded: string;
  readonly guardedNoJson: string;
  readonly bare: string;
  readonly bareParse: string;
  readonly secret: string;
}

async function start(runtime: Runtime): Promise<Server> {
  const [command, args] = await COMMANDS[runtime]();
  const child = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${runtime} server did not start`)), 60_000);
    child.stdout?.once('data', (d) => {
      clearTimeout(timer);
      ok(String(d));
    });
    child.once('exit', (code) => fail(new Error(`${runtime} server exited (${code})`)));
  });
  return { child, ...(JSON.parse(line) as Omit<Server, 'child'>) };
}

let address = 0;
/** Rotate source addresses: thousands of handshakes would exhaust one address's ports. */
const nextAddress = () => {
  address = (address + 1) % 60_000;
  return `127.${8 + Math.floor(address / 62_500)}.${Math.floor(address / 250) % 250}.${(address % 250) + 1}`;
};
const wsUrl = (base: string, path = '/') => `${base.replace(/^http/, 'ws')}${path}`;

/** Open `n` sockets, 8 at a time; each is counted once open, then reset. */
async function handshakes(
  n: number,
  next: () => { url: string; headers?: Record<string, string> },
) {
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      const { url, headers } = next();
      await new Promise<void>((ok, fail) => {
        const ws = new WebSocket(url, {
          perMessageDeflate: false,
          localAddress: nextAddress(),
          ...(headers ? { headers } : {}),
        });
        ws.once('open', () => {
          ws.terminate();
          ok();
        });
        ws.once('error', fail);
        ws.once('unexpected-response', (_req, res) => fail(new Error(`status ${res.statusCode}`)));
        ws.once('close', (code) => fail(new Error(`closed ${code} before open`)));
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, n) }, worker));
}

/** 8 clients with 8 frames in flight each; `run(n)` resolves once `n` echoes came back. */
async function echoClients(url: string, headers: Record<string, string> = {}) {
  const clients = await Promise.all(
    Array.from(
      { length: 8 },
      () =>
        new Promise<WebSocket>((ok, fail) => {
          const ws = new WebSocket(url, {
            perMessageDeflate: false,
            localAddress: nextAddress(),
            headers,
          });
          ws.once('open', () => ok(ws));
          ws.once('error', fail);
        }),
    ),
  );
  let target = 0;
  let received = 0;
  let sent = 0;
  let done: (() => void) | undefined;
  const pump = (ws: WebSocket) => {
    if (sent < target) {
      sent++;
      ws.send(CHAT_FRAME);
    }
  };
  for (const ws of clients)
    ws.on('message', () => {
      received++;
      if (received >= target) done?.();
      else pump(ws);
    });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        target += n;
        done = ok;
        for (const ws of clients) for (let i = 0; i < 8; i++) pump(ws);
      }),
    close: () => {
      for (const ws of clients) ws.terminate();
    },
  };
}

/** The server process's CPU time so far, µs (user + system, all threads). */
const serverCpu = async (base: string): Promise<number> =>
  ((await (await fetch(`${base}/cpu`)).json()) as { cpuMicros: number }).cpuMicros;

interface CpuCase {
  readonly name: string;
  /** Operations per round. */
  readonly n: number;
  /** Untimed preparation (e.g. issue tickets), done before the CPU is read. */
  readonly before?: (n: number) => void | Promise<void>;
  readonly run: (n: number) => void | Promise<void>;
}

/**
 * Server CPU per operation, one case at a time, rounds interleaved: a figure that does not depend
 * on how fast the driver is (it shares the two cores), so it moves less from run to run than the
 * rates. The first case is the baseline.
 */
async function cpuPerOp(server: Server, title: string, cases: CpuCase[], rounds = 5) {
  const per: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      await c.before?.(c.n);
      const before = await serverCpu(server.bare);
      await c.run(c.n);
      per[i]!.push(((await serverCpu(server.bare)) - before) / c.n);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = median(per[0]!);
  const rows = cases.map((c, i) => {
    const m = median(per[i]!);
    const range = `${Math.min(...per[i]!).toFixed(1)}–${Math.max(...per[i]!).toFixed(1)}`;
    return `| ${c.name} | ${m.toFixed(1)} | ${range} | ${i === 0 ? '**1** (baseline)' : (base / m).toFixed(2)} |`;
  });
  return [
    `### ${title}`,
    '',
    '| case | server CPU µs per op (median) | range | bare ÷ case |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

async function memory(server: Server, token: string): Promise<string> {
  const N = 1000;
  const mem = async (base: string) =>
    (await (await fetch(`${base}/mem`)).json()) as {
      heapUsed: number;
      external: number;
      sockets: number;
    };
  const rows: string[] = [];
  for (const [name, base, headers] of [
    ['bare crossws', server.bare, {}],
    ['guarded (JWT)', server.guarded, { authorization: `Bearer ${token}` }],
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

const selected = (process.argv.slice(2) as Runtime[]).filter((r) => r in COMMANDS);
const runtimes: Runtime[] = selected.length > 0 ? selected : ['node', 'bun', 'deno'];
const opts = { ...optionsFromEnv(), chunkMs: 20 };
const children: ChildProcess[] = [];
const started = performance.now();
try {
  for (const runtime of runtimes) {
    const server = await start(runtime);
    children.push(server.child);
    const secret = new TextEncoder().encode(server.secret);
    const token = await new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench')
      .setExpirationTime('2h')
      .sign(secret);
    const bearer = { authorization: `Bearer ${token}` };
    console.log(`## ${runtime}\n`);

    const guardedEcho = await echoClients(wsUrl(server.guarded), bearer);
    const bareEcho = await echoClients(wsUrl(server.bare));
    const parseEcho = await echoClients(wsUrl(server.bareParse));
    const noJsonEcho = await echoClients(wsUrl(server.guardedNoJson), bearer);
    await runAll(
      [
        {
          title: `Echo on ${runtime}: 197-byte JSON frames, 8 clients × 8 in flight`,
          baseline: 'bare crossws',
          cases: [
            { name: 'bare crossws', run: bareEcho.run },
            { name: 'bare crossws + JSON.parse in the app', run: parseEcho.run },
            { name: 'guarded, messages.json off', run: noJsonEcho.run },
            { name: 'guarded (full checks)', run: guardedEcho.run },
          ],
        },
      ],
      opts,
    );
    console.log(
      `${await cpuPerOp(
        server,
        `Server CPU per echoed frame on ${runtime} (5 rounds × 20,000 frames)`,
        [
          { name: 'bare crossws', n: 20_000, run: bareEcho.run },
          { name: 'bare crossws + JSON.parse in the app', n: 20_000, run: parseEcho.run },
          { name: 'guarded, messages.json off', n: 20_000, run: noJsonEcho.run },
          { name: 'guarded (full checks)', n: 20_000, run: guardedEcho.run },
        ],
      )}\n`,
    );
    guardedEcho.close();
    bareEcho.close();
    parseEcho.close();
    noJsonEcho.close();

    let tickets: string[] = [];
    const ticketCase: BenchCase = {
      name: 'guarded, ticket',
      before: async (n) => {
        const res = await fetch(`${server.guarded}/tickets?n=${n}`, { method: 'POST' });
        tickets = ((await res.json()) as { tickets: string[] }).tickets;
      },
      run: (n) =>
        handshakes(n, () => ({ url: wsUrl(server.guarded, `/?ticket=${tickets.pop()}`) })),
    };
    const comparison: Comparison = {
      title: `Handshakes on ${runtime}: 8 concurrent, open then reset`,
      baseline: 'bare crossws',
      cases: [
        { name: 'bare crossws', run: (n) => handshakes(n, () => ({ url: wsUrl(server.bare) })) },
        {
          name: 'guarded, JWT (HS256)',
          run: (n) => handshakes(n, () => ({ url: wsUrl(server.guarded), headers: bearer })),
        },
        ticketCase,
      ],
    };
    await runAll([comparison], opts);
    console.log(
      `${await cpuPerOp(
        server,
        `Server CPU per handshake on ${runtime} (5 rounds × 1,000 handshakes)`,
        [
          {
            name: 'bare crossws',
            n: 1000,
            run: (n) => handshakes(n, () => ({ url: wsUrl(server.bare) })),
          },
          {
            name: 'guarded, JWT (HS256)',
            n: 1000,
            run: (n) => handshakes(n, () => ({ url: wsUrl(server.guarded), headers: bearer })),
          },
          { name: 'guarded, ticket', n: 1000, before: ticketCase.before!, run: ticketCase.run },
        ],
      )}\n`,
    );
    if (runtime === 'node') console.log(`${await memory(server, token)}\n`);
    server.child.kill('SIGKILL');
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
