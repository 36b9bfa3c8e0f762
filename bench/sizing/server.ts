/**
 * One guarded instance of the sizing run, started by `run.ts` as
 * `node --expose-gc --import tsx bench/sizing/server.ts` with an IPC channel. It serves wsguard's
 * Node adapter (`serve()`) on a free loopback port, with the guard on the Redis store every
 * instance shares (`SIZING_PREFIX`), JWT (HS256) in the `Authorization` header and one-time
 * tickets (`POST /ws/ticket`), and the shipped limits (`LIMITS`). The app answers every frame the
 * guard lets through with a small acknowledgement, so the clients count frames that went all the
 * way through.
 *
 * IPC (see `ipc.ts`): `sample` (CPU time so far, memory after two forced GCs when asked, open
 * sockets, the guard's counters, the Redis commands it sent), `drop` (close every socket with the given code: the reconnect
 * storm), `close` (graceful shutdown, leases released, store closed).
 *
 * @module
 */
import type { Peer } from 'crossws';
import { Redis } from 'ioredis';
import { serve } from '../../adapters/node.ts';
import { withRetryHint } from '../../src/guard/admin.ts';
import { createGuard } from '../../src/guard/create-guard.ts';
import type { GuardedHooks } from '../../src/guard/types.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';
import { answer } from './ipc.ts';
import { LIMITS, SIZING_ORIGIN, SIZING_SECRET } from './plan.ts';

const prefix = process.env['SIZING_PREFIX'];
if (!prefix) throw new Error('SIZING_PREFIX is required');
const redis = new Redis(process.env['REDIS_URL'] || 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);
redis.on('error', (error) => console.error(`[sizing server ${process.pid}] redis:`, error.message));

/**
 * Commands this instance sent, by name: what its handshakes and frames wait on (Redis's own
 * `commandstats` also counts the commands a script runs inside Redis). Counted once per command
 * object, since ioredis may pass one through `sendCommand` again when it flushes a queue.
 */
const sent = new Map<string, number>();
const seen = new WeakSet<object>();
const send = redis.sendCommand.bind(redis);
redis.sendCommand = (command, stream) => {
  if (!seen.has(command)) {
    seen.add(command);
    sent.set(command.name, (sent.get(command.name) ?? 0) + 1);
  }
  return send(command, stream);
};

const errors = new Map<string, number>();
let errorsPrinted = 0;
const onError = (error: unknown, context: { stage: string }): void => {
  errors.set(context.stage, (errors.get(context.stage) ?? 0) + 1);
  if (errorsPrinted++ < 3) console.error(`[sizing server ${process.pid}] ${context.stage}:`, error);
};

// An app's audit sink costs what the app makes it cost; counting is the floor of that cost.
const audited = new Map<string, number>();
const guard = createGuard({
  origins: [SIZING_ORIGIN],
  jwt: { algorithms: ['HS256'], secret: SIZING_SECRET },
  tickets: true,
  credentials: { header: true, ticket: true },
  store: createRedisStore({ client: redis, prefix, ownsClient: true }),
  requireSharedStore: true,
  limits: LIMITS,
  audit: (event) => {
    audited.set(event.type, (audited.get(event.type) ?? 0) + 1);
  },
  onError,
});

const peers = new Set<Peer>();
const ACK = '{"ok":true}';
const hooks: GuardedHooks = {
  open(peer) {
    peers.add(peer);
  },
  message(peer) {
    peer.send(ACK);
  },
  close(peer) {
    peers.delete(peer);
  },
};

const server = await serve({ guard, hooks, onError, shutdownTimeoutMs: 5000 });

const g = globalThis as { gc?: () => void };
async function memory(): Promise<NodeJS.MemoryUsage> {
  if (g.gc) {
    g.gc();
    // Finalizers and weak callbacks run after the collection: a second one frees what they let go.
    await new Promise((r) => setTimeout(r, 20));
    g.gc();
  }
  return process.memoryUsage();
}

answer(async (request) => {
  if (request.op === 'sample') {
    const cpu = process.cpuUsage();
    const m = request['gc'] ? await memory() : process.memoryUsage();
    return {
      cpuMicros: cpu.user + cpu.system,
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      open: peers.size,
      stats: guard.stats(),
      audited: Object.fromEntries(audited),
      sent: Object.fromEntries(sent),
      errors: Object.fromEntries(errors),
    };
  }
  if (request.op === 'drop') {
    const code = Number(request['code'] ?? 1012);
    const reason = String(request['reason'] ?? 'service restart');
    const windowMs = Number(request['windowMs'] ?? 0);
    const dropped = peers.size;
    // With a window: what `guard.shutdown()` says with `reconnectWindowMs`, one delay per socket.
    for (const peer of [...peers]) peer.close(code, withRetryHint(reason, windowMs));
    return { dropped };
  }
  if (request.op === 'close') {
    await server.close();
    await guard.store.close?.();
    return { closed: true };
  }
  throw new Error(`unknown op ${request.op}`);
});

// An instance never outlives its run (the driver's own cap is shorter).
setTimeout(() => process.exit(3), Number(process.env['SIZING_MAX_MS'] ?? 360_000) + 60_000).unref();
process.send?.({ ready: server.url, pid: process.pid, gc: typeof g.gc === 'function' });
