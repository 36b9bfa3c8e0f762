/**
 * The soak's guarded server, started under Node (an esbuild bundle, with `--expose-gc`), Bun, or
 * Deno (`--v8-flags=--expose-gc`) by `server-process.ts`. One guard, full checks, served through
 * the runtime's wsguard adapter; it prints one JSON line (`{ runtime, url, gc }`) and serves until
 * SIGTERM (graceful close, then `{"closed":true,...}`) or its own deadline.
 *
 * The guard: JWT (header, query), tickets, first-message auth (500 ms), a zod schema and a
 * permission on every frame, audit to a counting sink, default connection rate and caps, per-message
 * limits raised (5,000/s per connection, burst 200) so good streams are never refused while a flood
 * (1,000 frames in one write) still is, penalties with a short half-life (5 s) and ban (10 s) so the
 * hostile address pools are banned and let go many times within a run.
 *
 * HTTP:
 * - `POST /ticket`: wsguard's ticket endpoint;
 * - `GET /admin/sample`: after a forced full GC (twice, with a turn of the event loop between for
 *   finalizers), memory (RSS, heap, external), open connections by the guard's count and the app's,
 *   connection objects still reachable (a FinalizationRegistry over every accepted connection and
 *   every peer), and the live leases over every address and user the driver uses;
 * - `GET /admin/final`: the same plus the guard's counters, audit events by type, errors by stage,
 *   and (where the runtime has it) the active handles by type.
 *
 * - `GET /admin/snapshot?name=…`: with `SOAK_SNAPSHOTS=<dir>` only, a heap snapshot after a full GC.
 *
 * Environment: `SOAK_STORE=redis` (with `REDIS_URL`) for the Redis store instead of the memory
 * store; for the control runs that show the soak's checks can fail, `SOAK_LEAK=connections` (the app
 * keeps every connection object, a forgotten map entry) and `SOAK_LEAK_BYTES=N` (it keeps N bytes of
 * heap per opened socket).
 *
 * @module
 */
import type { Peer } from 'crossws';
import { z } from 'zod';
import type { GuardedHooks } from '../../src/guard/types.ts';
import { createGuard, json, type Principal, type Store, ticketHandler } from '../../src/mod.ts';
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import {
  ALL_IPS,
  ALL_USERS,
  AUTH_TIMEOUT_MS,
  SLOW_PRINCIPAL_MS,
  SOAK_ORIGIN,
  SOAK_SECRET,
} from './plan.ts';

type Runtime = 'node' | 'bun' | 'deno';
const runtime: Runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';
const g = globalThis as unknown as {
  gc?: () => void;
  Deno?: {
    memoryUsage(): { rss: number; heapUsed: number; heapTotal: number; external: number };
    env: { get(name: string): string | undefined };
  };
  Bun?: { gc(force: boolean): void };
};
const env = (name: string): string | undefined =>
  g.Deno ? g.Deno.env.get(name) : process.env[name];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- what the driver reads back -----------------------------------------------------------------

/** Sockets the app saw open and not yet closed. */
let appOpen = 0;
/**
 * Objects still reachable, by the kind of client that made them (the `k` query parameter the
 * driver puts on every handshake URL): a FinalizationRegistry over every accepted connection and
 * every peer counts what the collector freed. What stays after a full GC is held by something: a
 * leak, a timer that has not fired yet, or the runtime itself.
 */
class Reachable {
  readonly made = new Map<string, number>();
  readonly freed = new Map<string, number>();
  readonly #registry = new FinalizationRegistry<string>((kind) => {
    this.freed.set(kind, (this.freed.get(kind) ?? 0) + 1);
  });
  track(object: object, kind: string): void {
    this.made.set(kind, (this.made.get(kind) ?? 0) + 1);
    this.#registry.register(object, kind);
  }
  total(map: Map<string, number>): number {
    let n = 0;
    for (const v of map.values()) n += v;
    return n;
  }
  /** Kinds with objects still reachable → how many. */
  byKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [kind, n] of this.made) {
      const left = n - (this.freed.get(kind) ?? 0);
      if (left > 0) out[kind] = left;
    }
    return out;
  }
}
const connectionObjects = new Reachable();
const peerObjects = new Reachable();
const kindOf = (url: string): string => /[?&]k=([a-z0-9-]+)/.exec(url)?.[1] ?? 'none';
const auditCounts = new Map<string, number>();
const errorCounts = new Map<string, number>();
let errorsPrinted = 0;

const leak = env('SOAK_LEAK') === 'connections';
const leakBytes = Number(env('SOAK_LEAK_BYTES') ?? 0);
const leaked: unknown[] = [];

// ---- the guard ----------------------------------------------------------------------------------

const ChatMessage = z.object({
  type: z.literal('chat.send'),
  id: z.string().min(1).max(64),
  room: z.string().min(1).max(64),
  text: z.string().min(1).max(2000),
  ts: z.number(),
});

const onError = (error: unknown, context: { stage: string }): void => {
  errorCounts.set(context.stage, (errorCounts.get(context.stage) ?? 0) + 1);
  if (errorsPrinted++ < 5) console.error(`[soak ${runtime}] ${context.stage}:`, error);
};

async function makeStore(): Promise<Store | undefined> {
  if (env('SOAK_STORE') !== 'redis') return undefined; // the guard's default: the memory store
  const { Redis } = await import('ioredis');
  const { createRedisStore, REDIS_CLIENT_OPTIONS } = await import('../../src/redis.ts');
  const client = new Redis(env('REDIS_URL') ?? 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  // A prefix of its own: several soaks (and other tests) can share one Redis.
  const prefix = `wsguard-soak:${runtime}:${Date.now()}:${Math.random().toString(36).slice(2)}:`;
  return createRedisStore({ client, prefix, ownsClient: true });
}

const store = await makeStore();
const guard = createGuard({
  origins: [SOAK_ORIGIN],
  jwt: { algorithms: ['HS256'], secret: SOAK_SECRET },
  tickets: true,
  credentials: {
    header: true,
    query: true,
    ticket: true,
    firstMessage: { timeoutMs: AUTH_TIMEOUT_MS },
  },
  limits: {
    messageRate: { limit: 5000, windowMs: 1000, burst: 200 },
    userMessageRate: { limit: 10_000, windowMs: 1000, burst: 400 },
  },
  messages: {
    schema: ChatMessage,
    permission: (m) => ((m as { type?: unknown }).type === 'chat.send' ? 'chat.send' : undefined),
  },
  permissions: { roles: { user: ['chat.*'] } },
  penalties: { halfLifeMs: 5000, banMs: 10_000 },
  audit: (event) => {
    auditCounts.set(event.type, (auditCounts.get(event.type) ?? 0) + 1);
  },
  onError,
  principal: async (p: Principal) => {
    if (p.sub.startsWith('slow-')) await sleep(SLOW_PRINCIPAL_MS);
    return p;
  },
  ...(store ? { store } : {}),
});

const hooks: GuardedHooks = {
  upgrade(_request, connection) {
    connectionObjects.track(connection, kindOf(connection.url));
    if (leak) leaked.push(connection);
  },
  open(peer: Peer, connection) {
    appOpen++;
    peerObjects.track(peer, kindOf(connection.url));
    // A heap array (not a typed array, whose bytes are off-heap and lazily committed).
    if (leakBytes > 0) leaked.push(new Array(Math.ceil(leakBytes / 8)).fill(appOpen));
  },
  message(peer, message, { authenticated }) {
    if (authenticated) peer.send('{"authenticated":true}');
    else peer.send(message.text());
  },
  close() {
    appOpen--;
  },
};

// ---- admin --------------------------------------------------------------------------------------

async function collect(): Promise<boolean> {
  const can = typeof g.gc === 'function' || g.Bun !== undefined;
  for (let i = 0; i < 2; i++) {
    g.gc?.();
    g.Bun?.gc(true);
    // FinalizationRegistry callbacks run as tasks after the collection.
    await sleep(5);
  }
  return can;
}

const memory = () => {
  const m = g.Deno ? g.Deno.memoryUsage() : process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
};

/** Live leases over every key the driver can have made (by the store's own count). */
async function leases(): Promise<{ ip: number; user: number; keys: string[] }> {
  const count = (key: string) => guard.store.countLeases(key).then((n) => [key, n] as const);
  const [ips, users] = await Promise.all([
    Promise.all(ALL_IPS.map((ip) => count(`lease:ip:${ip}`))),
    Promise.all(ALL_USERS.map((u) => count(`lease:user:${u}`))),
  ]);
  const sum = (xs: readonly (readonly [string, number])[]) => xs.reduce((a, [, n]) => a + n, 0);
  const held = [...ips, ...users].filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
  return { ip: sum(ips), user: sum(users), keys: held.slice(0, 20) };
}

async function sample() {
  const gc = await collect();
  const s = guard.stats();
  return {
    runtime,
    t: Date.now(),
    gc,
    ...memory(),
    connections: s.connections,
    users: s.users,
    appOpen,
    accepted: connectionObjects.total(connectionObjects.made),
    retainedConnections:
      connectionObjects.total(connectionObjects.made) -
      connectionObjects.total(connectionObjects.freed),
    retainedByKind: connectionObjects.byKind(),
    peers: peerObjects.total(peerObjects.made),
    retainedPeers: peerObjects.total(peerObjects.made) - peerObjects.total(peerObjects.freed),
    retainedPeersByKind: peerObjects.byKind(),
    leaked: leaked.length,
    leases: await leases(),
  };
}

/** Active handles by type, where the runtime reports them (Node; others may stub it). */
function resources(): Record<string, number> | undefined {
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  if (g.Deno || typeof info !== 'function') return undefined;
  const out: Record<string, number> = {};
  for (const r of info()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/**
 * With `SOAK_SNAPSHOTS=<dir>`: a heap snapshot after a full GC, written to `<dir>/<name>.heapsnapshot`
 * (`node:v8`, where the runtime implements it), for comparing two points of a run.
 */
async function snapshot(name: string | null): Promise<Response> {
  const dir = env('SOAK_SNAPSHOTS');
  if (!dir || name === null || !/^[a-z0-9-]{1,40}$/.test(name))
    return new Response('not found', { status: 404 });
  await collect();
  const v8 = await import('node:v8');
  return json({ file: v8.writeHeapSnapshot(`${dir}/${runtime}-${name}.heapsnapshot`) });
}

const tickets = ticketHandler(guard);
const fetch: ServeOptions['fetch'] = async (request, client) => {
  const path = new URL(request.url).pathname;
  if (path === '/ticket') return tickets(request, client.ip);
  if (path === '/admin/sample') return json(await sample());
  if (path === '/admin/snapshot') return snapshot(new URL(request.url).searchParams.get('name'));
  if (path === '/admin/final')
    return json({
      ...(await sample()),
      stats: guard.stats(),
      audit: Object.fromEntries(auditCounts),
      errors: Object.fromEntries(errorCounts),
      resources: resources(),
    });
  return new Response('not found', { status: 404 });
};

const { serve } = (await import(`../../adapters/${runtime}.ts`)) as {
  serve(options: ServeOptions): Promise<GuardedServer>;
};
const server = await serve({
  guard,
  hooks,
  fetch,
  onError,
  shutdownTimeoutMs: 2000,
  ...(env('SOAK_IDLE_TIMEOUT') ? { idleTimeout: Number(env('SOAK_IDLE_TIMEOUT')) } : {}),
  // Deno never reports a socket whose client left during the check, and Bun may not: release such
  // handshakes after 2 s rather than the default 10 s (Node opens or refuses before returning).
  ...(runtime === 'node' ? {} : { hookOptions: { openTimeoutMs: 2000 } }),
});

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  server.close().then(
    async () => {
      await guard.store.close?.();
      process.stdout.write(`${JSON.stringify({ closed: true, stats: guard.stats() })}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
// A soak server never outlives its driver.
setTimeout(() => process.exit(3), Number(env('SOAK_MAX_MS') ?? 900_000)).unref?.();

process.stdout.write(`${JSON.stringify({ runtime, url: server.url, gc: await collect() })}\n`);
