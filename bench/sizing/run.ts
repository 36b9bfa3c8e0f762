/**
 * The sizing simulation (issue 17), one command:
 *
 *   node_modules/.bin/tsx bench/sizing/run.ts
 *
 * Knobs: `SIZING_CONNECTIONS` (20000), `SIZING_INSTANCES` (4), `SIZING_CLIENTS` (2 client
 * processes), `SIZING_CONCURRENCY` (64 handshakes in flight per client process), `SIZING_MAX_MS`
 * (360000: the whole run's wall-clock cap), `REDIS_URL` (redis://127.0.0.1:6379),
 * `SIZING_STORM_WINDOW_MS` (0: the storm closes with 1012; else with a shutdown's 1001 that says
 * `retry in <ms>`, drawn per socket over the window).
 *
 * `SIZING_INSTANCES` guarded Node processes (`server.ts`) share one Redis store under a prefix of
 * this run's own (deleted at the end). The client processes (`client.ts`) open the connections
 * from many 127.x.y.z addresses as many users, and the run measures, phase by phase: handshakes
 * with a JWT in the header (the first half), handshakes with a one-time ticket fetched from
 * another instance (the second half), holding every connection open (lease renewals), frames
 * through the guard, and a reconnect storm (`storm.ts`). Memory per connection is read after
 * forced GCs with none, half and all connections open. It prints Markdown tables.
 *
 * Bounded: every child is killed when the run ends, however it ends (`processes.ts`); past
 * `SIZING_MAX_MS` the run prints what it has, cleans up and exits 2.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import { killServers } from '../server-process.ts';
import { createAsker } from './ipc.ts';
import { measure, type PhaseResult, type Rig, type ServerSample, sampleServers } from './phase.ts';
import { knobs, LIMITS, PER_IP, PER_USER } from './plan.ts';
import { startClients, startServers } from './processes.ts';
import { deletePrefix, readRedis } from './redis-probe.ts';
import { commandTable, memoryTable, phaseTable, stormTable } from './report.ts';
import { runStorm, type StormResult } from './storm.ts';

const k = knobs();
const prefix = `wsguard-sizing:${process.pid}:${Date.now().toString(36)}:`;
const redis = new Redis(k.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
const ask = createAsker();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the run has measured so far (printed at the end, or at the cap). */
const got: {
  head: string[];
  phases: PhaseResult[];
  memory?: [ServerSample[], ServerSample[], ServerSample[]];
  storm?: { phase: PhaseResult; storm: StormResult };
  notes: string[];
} = { head: [], phases: [], notes: [] };

let servers: Rig['servers'] = [];
let clients: { child: Rig['servers'][number]; from: number; to: number }[] = [];

function machine(): string {
  const ulimit = (() => {
    try {
      return execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  })();
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ulimit -n ${ulimit}`;
}

async function header(): Promise<void> {
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  const r0 = await readRedis(redis);
  await sleep(2000);
  const r1 = await readRedis(redis);
  const background = ((r1.total - r0.total - 2) / (r1.at - r0.at)) * 1000;
  got.head.push(
    '## wsguard sizing run',
    '',
    `- command: \`node_modules/.bin/tsx bench/sizing/run.ts\` (SIZING_CONNECTIONS=${k.connections}, SIZING_INSTANCES=${k.instances}, SIZING_CLIENTS=${k.clients}, SIZING_CONCURRENCY=${k.concurrency})`,
    `- machine: ${machine()}; Redis ${version} at ${k.redisUrl}; instances, clients and Redis all share these cores`,
    `- date: ${new Date().toISOString()}`,
    `- limits: ${JSON.stringify(LIMITS)}; ${PER_IP} connections per source address, ${PER_USER} per user`,
    `- Redis background before the run (other users of this Redis): ${background.toFixed(1)} commands/s`,
  );
}

/** Each client process opens the `part`-th half of its own range with `mode`. */
function openHalf(part: 0 | 1, mode: 'jwt' | 'ticket') {
  return Promise.all(
    clients.map(async (c) => {
      const mid = c.from + Math.floor((c.to - c.from) / 2);
      const [from, to] = part === 0 ? [c.from, mid] : [mid, c.to];
      const r = (await ask(c.child, { op: 'open', from, to, mode }, 300_000)) as {
        failures: Record<string, number>;
        p50: number;
        p99: number;
      };
      const failed = Object.values(r.failures).reduce((a, v) => a + v, 0);
      return { ...r, requested: to - from, accepted: to - from - failed };
    }),
  );
}

type Opened = Awaited<ReturnType<typeof openHalf>>;
const accepted = (r: Opened) => r.reduce((a, x) => a + x.accepted, 0);

async function ramp(rig: Rig, part: 0 | 1, mode: 'jwt' | 'ticket'): Promise<void> {
  const name = mode === 'jwt' ? 'handshake, JWT in header' : 'handshake, ticket (POST + upgrade)';
  const p = await measure(rig, name, 'handshakes', () => openHalf(part, mode), accepted);
  got.phases.push(p);
  const detail = p.detail as Opened;
  const failures = detail.flatMap((d) => Object.entries(d.failures).map(([o, n]) => `${o} ${n}`));
  got.notes.push(
    `- ${name}: client-side latency p50 ${detail.map((d) => d.p50.toFixed(0)).join('/')} ms, p99 ${detail.map((d) => d.p99.toFixed(0)).join('/')} ms (per client process, ${k.concurrency} in flight each); failed attempts: ${failures.join(', ') || 'none'}`,
  );
}

async function holdAndFrames(rig: Rig): Promise<void> {
  const open = (await sampleServers(rig)).reduce((a, s) => a + s.open, 0);
  const HOLD_S = 12;
  got.phases.push(
    await measure(
      rig,
      `hold ${open} open, ${HOLD_S} s`,
      'connection-seconds',
      () => sleep(HOLD_S * 1000),
      () => open * HOLD_S,
    ),
  );
  const frames = await measure(
    rig,
    'frames (5 per connection, acknowledged)',
    'frames',
    () => Promise.all(clients.map((c) => ask(c.child, { op: 'frames' }, 300_000))),
    (r) => (r as { acked: number }[]).reduce((a, x) => a + x.acked, 0),
  );
  got.phases.push(frames);
  const sent = (frames.detail as { sent: number }[]).reduce((a, x) => a + x.sent, 0);
  if (sent !== frames.count) got.notes.push(`- frames: ${sent} sent, ${frames.count} acknowledged`);
}

function print(): void {
  const out = [...got.head, '', '### Cost per phase', '', phaseTable(got.phases)];
  const handshakes = got.phases.filter((p) => p.unit === 'handshakes');
  if (handshakes.length > 0)
    out.push(
      '',
      '### Redis commands per handshake, by command (calls, µs inside Redis)',
      '',
      commandTable(handshakes),
    );
  if (got.memory)
    out.push(
      '',
      '### Memory per connection (instances, after forced GC)',
      '',
      memoryTable(...got.memory),
    );
  if (got.storm)
    out.push(
      '',
      '### Reconnect storm',
      '',
      stormTable(got.storm.storm, got.storm.phase.rejections),
    );
  if (got.notes.length > 0) out.push('', '### Notes', '', ...got.notes);
  process.stdout.write(`${out.join('\n')}\n`);
}

let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  const bounded = (p: Promise<unknown>) => Promise.race([p.catch(() => undefined), sleep(15_000)]);
  await bounded(Promise.all(clients.map((c) => ask(c.child, { op: 'close' }, 10_000))));
  await bounded(Promise.all(servers.map((s) => ask(s, { op: 'close' }, 12_000))));
  killServers();
  const removed = await bounded(deletePrefix(redis, prefix));
  got.notes.push(
    `- cleanup: ${typeof removed === 'number' ? removed : 'unknown number of'} keys under \`${prefix}\` deleted`,
  );
  redis.disconnect();
}

async function main(): Promise<void> {
  await header();
  const env = {
    SIZING_PREFIX: prefix,
    REDIS_URL: k.redisUrl,
    SIZING_MAX_MS: String(k.maxMs),
  };
  const started = await startServers(k.instances, env);
  servers = started.children;
  clients = await startClients(k.clients, k.connections, {
    SIZING_URLS: JSON.stringify(started.urls),
    SIZING_CONCURRENCY: String(k.concurrency),
  });
  const rig: Rig = { redis, servers, ask };
  await Promise.all(clients.map((c) => ask(c.child, { op: 'prepare' })));
  const empty = await sampleServers(rig, true);
  await ramp(rig, 0, 'jwt');
  const half = await sampleServers(rig, true);
  await ramp(rig, 1, 'ticket');
  const full = await sampleServers(rig, true);
  got.memory = [empty, half, full];
  await holdAndFrames(rig);
  got.storm = await runStorm(
    rig,
    clients.map((c) => c.child),
    120_000,
    k.stormWindowMs,
  );
  got.phases.push(got.storm.phase);
  const errors = (await sampleServers(rig)).map((s) => JSON.stringify(s.errors));
  got.notes.push(`- instances' onError counts by stage: ${errors.join(' ')}`);
}

const cap = setTimeout(() => {
  got.notes.push(`- **stopped at the wall-clock cap (${k.maxMs} ms)**: figures above are partial`);
  void cleanup().finally(() => {
    print();
    process.exit(2);
  });
}, k.maxMs);

main()
  .then(
    () => 0,
    (error: unknown) => {
      got.notes.push(`- **run failed**: ${error instanceof Error ? error.stack : String(error)}`);
      return 1;
    },
  )
  .then(async (code) => {
    clearTimeout(cap);
    await cleanup();
    print();
    process.exit(code);
  });
