/**
 * wsguard's tRPC bridge side by side with tRPC's own `applyWSSHandler` on `ws` (no security at
 * all), on Node: `npx tsx bench/trpc.bench.ts` (`--no-bun` leaves out the Bun row; name sections
 * to run some: `mutations events latency memory`). Prints markdown tables.
 *
 * Two server processes (`bench/trpc-server.ts guarded|trpc`, bundled with esbuild and run by
 * `node --expose-gc`) serve the same router (`bench/trpc-router.ts`); this process drives both
 * over loopback with `ws` clients speaking tRPC's wire protocol (raw frames, so client overhead
 * is the same for both and small):
 *
 * - mutations/s: `add` with zod input at 1 connection (8 calls in flight) and 50 connections
 *   (2 in flight each), one call per frame; guarded: JWT auth, every message check, permission
 *   from `meta`, `rateLimit` middleware. Interleaved rounds (bench/harness.ts); plus each
 *   server's CPU time per call;
 * - subscription events/s: one subscriber, `burst` of n events until `stopped`; plus guarded with
 *   `eventOutput` validation, and (optional) the guarded server under Bun;
 * - another client's round trip during a burst: a client pings (`ping` query, open loop, one
 *   every 2 ms) while a separate process (`bench/trpc-burster.ts`) reads a 100,000-event burst;
 *   p50/p99 idle vs during the burst, 3 bursts per server, and a control row (the guarded server
 *   idle while the other one bursts: what CPU contention alone does);
 * - memory per idle connection: 1,000 open sockets, server heap + external after a full GC.
 *
 * Bounded: `BENCH_TIME_MS` per case (default 1500) in `BENCH_ROUNDS` rounds (default 10), about
 * a minute in all; every child is killed at the end, failure or not (and exits by itself after
 * 5 minutes).
 *
 * @module
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { nodeBundle } from './bundle.ts';
import { type Comparison, optionsFromEnv, runAll } from './harness.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bunBin = join(root, 'node_modules/.bin/bun');
const children: ChildProcess[] = [];

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly headers: Record<string, string>;
}

async function start(
  name: string,
  command: string,
  args: string[],
  token: (secret: string) => Promise<string>,
): Promise<Server> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} server did not start`)), 60_000);
    let buffered = '';
    child.stdout?.on('data', (d) => {
      buffered += String(d);
      if (buffered.includes('\n')) {
        clearTimeout(timer);
        ok(buffered.slice(0, buffered.indexOf('\n')));
      }
    });
    child.once('exit', (code) => fail(new Error(`${name} server exited (${code})`)));
  });
  const info = JSON.parse(line) as { url: string; secret: string; mode: string };
  const headers: Record<string, string> =
    info.mode === 'guarded' ? { authorization: `Bearer ${await token(info.secret)}` } : {};
  return { name, child, url: info.url.replace(/^http/, 'ws'), headers };
}

let address = 0;
/** Rotate source addresses: 1,000 sockets from one address is fine, but keep caps per IP apart. */
const nextAddress = () => {
  address = (address + 1) % 60_000;
  return `127.${20 + Math.floor(address / 62_500)}.${Math.floor(address / 250) % 250}.${(address % 250) + 1}`;
};

function open(server: Server): Promise<WebSocket> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(server.url, {
      perMessageDeflate: false,
      localAddress: nextAddress(),
      headers: server.headers,
    });
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`status ${res.statusCode}`)));
  });
}

async function openMany(server: Server, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 50)
    out.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => open(server)))),
    );
  return out;
}

/** `conns` connections with `inflight` mutations in flight each; `run(n)` resolves after n answers. */
async function mutationClients(server: Server, conns: number, inflight: number) {
  const clients = await openMany(server, conns);
  let target = 0;
  let received = 0;
  let sent = 0;
  let errors = 0;
  let done: (() => void) | undefined;
  let nextId = 0;
  const pump = (ws: WebSocket) => {
    if (sent >= target) return;
    sent++;
    const id = ++nextId;
    ws.send(`{"id":${id},"method":"mutation","params":{"path":"add","input":{"a":1,"b":2}}}`);
  };
  for (const ws of clients)
    ws.on('message', (data: Buffer) => {
      received++;
      if (!data.includes('"result"')) errors++;
      if (received >= target) done?.();
      else pump(ws);
    });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        target += n;
        done = ok;
        for (const ws of clients) for (let i = 0; i < inflight; i++) pump(ws);
      }),
    verify: () => {
      if (errors > 0) throw new Error(`${server.name}: ${errors} mutations failed`);
    },
    close: () => {
      for (const ws of clients) ws.terminate();
    },
  };
}

/** One subscriber; `run(n)` subscribes to a burst of n events and resolves at `stopped`. */
async function subscriber(server: Server, path: string) {
  const ws = await open(server);
  let id = 0;
  let events = 0;
  let expected = 0;
  let done: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    events++;
    if (data.includes('"stopped"')) done?.();
  });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        expected += n + 2; // started, n events, stopped
        done = ok;
        ws.send(
          `{"id":${++id},"method":"subscription","params":{"path":"${path}","input":{"n":${n}}}}`,
        );
      }),
    verify: () => {
      if (events !== expected)
        throw new Error(`${server.name} ${path}: ${events} frames, expected ${expected}`);
    },
    close: () => ws.terminate(),
  };
}

/** Server CPU time per mutation (µs), 50 connections × 2 in flight, 5 interleaved runs each. */
async function cpuPerMutation(servers: Server[]): Promise<string> {
  const N = 20_000;
  const cpu = async (server: Server) =>
    ((await (await fetch(`${server.url.replace(/^ws/, 'http')}/cpu`)).json()) as { us: number }).us;
  const clients = await Promise.all(servers.map((s) => mutationClients(s, 50, 2)));
  const samples: number[][] = servers.map(() => []);
  for (let i = 0; i < servers.length; i++) await clients[i]!.run(N); // warm
  for (let round = 0; round < 5; round++)
    for (let k = 0; k < servers.length; k++) {
      const i = (round + k) % servers.length;
      const before = await cpu(servers[i]!);
      await clients[i]!.run(N);
      samples[i]!.push(((await cpu(servers[i]!)) - before) / N);
    }
  for (const c of clients) {
    c.verify();
    c.close();
  }
  const base = percentile(samples[0]!, 50);
  return [
    `### Server CPU per mutation (50 connections × 2 in flight, ${N.toLocaleString('en')} calls × 5 interleaved runs)`,
    '',
    '| server | CPU µs per call (median) | runs min–max | × baseline |',
    '| --- | ---: | ---: | ---: |',
    ...servers.map((s, i) => {
      const xs = samples[i]!;
      const med = percentile(xs, 50);
      return `| ${s.name} | ${med.toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} | ${i === 0 ? '**1** (baseline)' : (med / base).toFixed(2)} |`;
    }),
  ].join('\n');
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** Ping every 2 ms (open loop) while `during` runs; the round trips of pings sent meanwhile. */
async function pingWhile(ws: WebSocket, during: () => Promise<void>): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  let id = 1_000_000 * Math.floor(Math.random() * 1000);
  let settle: (() => void) | undefined;
  const onMessage = (data: Buffer) => {
    const m = /"id":(\d+)/.exec(data.toString('latin1', 0, 40));
    const t = m ? sentAt.get(Number(m[1])) : undefined;
    if (t === undefined) return;
    rtts.push(performance.now() - t);
    sentAt.delete(Number(m![1]));
    if (sentAt.size === 0) settle?.();
  };
  ws.on('message', onMessage);
  const timer = setInterval(() => {
    id++;
    sentAt.set(id, performance.now());
    ws.send(`{"id":${id},"method":"query","params":{"path":"ping"}}`);
  }, 2);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  if (sentAt.size > 0)
    await Promise.race([
      new Promise<void>((r) => {
        settle = r;
      }),
      new Promise((r) => setTimeout(r, 10_000)),
    ]);
  ws.off('message', onMessage);
  if (sentAt.size > 0) throw new Error(`${sentAt.size} pings unanswered`);
  return rtts;
}

/** Run one burst of `n` events in the burster process; resolves when it is read to the end. */
function burst(
  burster: ChildProcess,
  server: Server,
  n: number,
): Promise<{ events: number; ms: number }> {
  return new Promise((ok, fail) => {
    const onMessage = (m: { type: string; events?: number; ms?: number; message?: string }) => {
      if (m.type === 'ready') burster.send({ type: 'go' });
      else if (m.type === 'done') {
        burster.off('message', onMessage);
        ok({ events: m.events!, ms: m.ms! });
      } else if (m.type === 'error') {
        burster.off('message', onMessage);
        fail(new Error(m.message));
      }
    };
    burster.on('message', onMessage);
    burster.send({ type: 'burst', url: server.url, headers: server.headers, n });
  });
}

/** Pings to `pinged`, idle and during bursts on `burstOn` (3 rounds of each, interleaved). */
async function pingDuringBursts(
  pinged: Server,
  burstOn: Server,
  burster: ChildProcess,
  n: number,
): Promise<{ idle: number[]; during: number[]; rate: number }> {
  const ws = await open(pinged);
  // Warm both paths once, unmeasured.
  await pingWhile(ws, () => new Promise((r) => setTimeout(r, 300)));
  await burst(burster, burstOn, n);
  const idle: number[] = [];
  const during: number[] = [];
  let rate = 0;
  for (let round = 0; round < 3; round++) {
    idle.push(...(await pingWhile(ws, () => new Promise((r) => setTimeout(r, 1000)))));
    during.push(
      ...(await pingWhile(ws, async () => {
        const b = await burst(burster, burstOn, n);
        if (b.events !== n) throw new Error(`${burstOn.name}: burst of ${b.events}`);
        rate += (1000 * b.events) / b.ms / 3;
      })),
    );
  }
  ws.terminate();
  return { idle, during, rate };
}

/**
 * Another client's round trip during a fast burst, for each server; plus a control row: the
 * guarded server pinged while the burst runs on the *other* server, which shows what the
 * machine's CPU contention alone (burst server + burst reader busy on 2 cores) does to the
 * round trip of a server that has nothing else to do.
 */
async function latency(trpc: Server, guarded: Server, burster: ChildProcess): Promise<string> {
  const N = 100_000;
  const rows: string[] = [];
  for (const [label, pinged, burstOn] of [
    [trpc.name, trpc, trpc],
    [guarded.name, guarded, guarded],
    [`control: ${guarded.name}, idle, while ${trpc.name} bursts`, guarded, trpc],
  ] as const) {
    const { idle, during, rate } = await pingDuringBursts(pinged, burstOn, burster, N);
    const idle99 = percentile(idle, 99);
    const during99 = percentile(during, 99);
    rows.push(
      `| ${label} | ${rate.toFixed(0)} | ${percentile(idle, 50).toFixed(2)} / ${idle99.toFixed(2)} ms | ${percentile(during, 50).toFixed(2)} / ${during99.toFixed(2)} ms | ${(during99 / idle99).toFixed(1)}× | ${idle.length} / ${during.length} |`,
    );
  }
  return [
    `### Another client's round trip during a ${N.toLocaleString('en')}-event burst (Node, 3 bursts each)`,
    '',
    '| pinged server | burst events/s | idle p50 / p99 | during burst p50 / p99 | p99 during ÷ idle | samples idle / during |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
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
    rows.push(`| ${server.name} | ${(perSocket / 1024).toFixed(1)} KiB |`);
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
  }
  return [
    `### Memory per idle connection (Node, ${N.toLocaleString('en')} sockets, server heap + external after a full GC)`,
    '',
    '| server | per connection |',
    '| --- | ---: |',
    ...rows,
  ].join('\n');
}

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
try {
  const sign = (secret: string) =>
    new SignJWT({ roles: ['bench'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench')
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(secret));
  const node = [
    process.execPath,
    ['--expose-gc', await nodeBundle('bench/trpc-server.ts')],
  ] as const;
  const trpc = await start(
    "tRPC's applyWSSHandler (ws, no security)",
    node[0],
    [...node[1], 'trpc'],
    sign,
  );
  const guarded = await start(
    'wsguard bridge (every check on)',
    node[0],
    [...node[1], 'guarded'],
    sign,
  );
  const bun = withBun
    ? await start('wsguard bridge on Bun', bunBin, ['run', 'bench/trpc-server.ts', 'guarded'], sign)
    : undefined;
  console.log(
    `wsguard tRPC benchmarks — Node ${process.version}, ${process.platform}/${process.arch}, ` +
      `${(await import('node:os')).availableParallelism()} cores\n`,
  );
  const opts = { ...optionsFromEnv(), chunkMs: 20 };

  for (const [conns, inflight] of run('mutations')
    ? ([
        [1, 8],
        [50, 2],
      ] as const)
    : []) {
    const base = await mutationClients(trpc, conns, inflight);
    const ours = await mutationClients(guarded, conns, inflight);
    await runAll(
      [
        {
          title: `Mutations/s, ${conns} connection${conns > 1 ? 's' : ''} × ${inflight} in flight`,
          baseline: trpc.name,
          cases: [
            { name: trpc.name, run: base.run, verify: base.verify },
            { name: guarded.name, run: ours.run, verify: ours.verify },
          ],
        },
      ],
      opts,
    );
    base.close();
    ours.close();
  }
  if (run('mutations')) console.log(`${await cpuPerMutation([trpc, guarded])}\n`);

  const subs = !run('events')
    ? []
    : [
        { server: trpc, path: 'burst', name: trpc.name },
        { server: guarded, path: 'burst', name: guarded.name },
        { server: guarded, path: 'burstChecked', name: 'wsguard bridge + eventOutput(z.number())' },
        ...(bun ? [{ server: bun, path: 'burst', name: bun.name }] : []),
      ];
  const subscribers = await Promise.all(subs.map((s) => subscriber(s.server, s.path)));
  const events: Comparison = {
    title: 'Subscription events/s, one subscriber',
    baseline: trpc.name,
    cases: subs.map((s, i) => ({
      name: s.name,
      run: subscribers[i]!.run,
      verify: subscribers[i]!.verify,
    })),
  };
  if (subs.length > 0) await runAll([events], opts);
  for (const s of subscribers) s.close();

  if (run('latency')) {
    const burster = fork(join(root, 'bench/trpc-burster.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(burster);
    console.log(`${await latency(trpc, guarded, burster)}\n`);
    burster.send({ type: 'exit' });
  }

  if (run('memory')) console.log(`${await memory([trpc, guarded])}\n`);
} finally {
  for (const child of children) child.kill('SIGKILL');
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
