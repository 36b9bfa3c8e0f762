/**
 * The server side of `bench/trpc.bench.ts`: `trpc-server.ts guarded` serves the bench router
 * over wsguard (the runtime's adapter, `createTRPCBridge` + `trpcHooks`, every check on, budgets
 * high enough that nothing is refused); `trpc-server.ts trpc` (Node only) serves it with tRPC's
 * own `applyWSSHandler` on a `ws` server, no security at all. Prints one JSON line
 * `{ url, secret }`. HTTP `GET /mem`: memory after a full GC (with `--expose-gc`) and open sockets;
 * `GET /cpu`: the process's CPU time so far.
 */
import { createGuard, json } from '../src/mod.ts';
import type { GuardedServer, ServeOptions } from '../src/transport/serve.ts';
import { createTRPCBridge, type GuardedContext, trpcHooks } from '../src/trpc.ts';
import { FULL_CHECK_LIMITS } from './full-check-limits.ts';
import { makeBenchRouter } from './trpc-router.ts';

/** Shared with the driver. */
const SECRET = 'bench-trpc-secret-0123456789-abcdefghijklmnopqrstuv';

type Runtime = 'node' | 'bun' | 'deno';
const runtime: Runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';
const g = globalThis as unknown as { gc?: () => void; Bun?: { gc(force: boolean): void } };

const mem = (sockets: number): Response => {
  if (g.gc) {
    g.gc();
    g.gc();
  }
  g.Bun?.gc(true);
  const m = process.memoryUsage();
  return json({ runtime, sockets, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
};

/** CPU time of this process so far (µs): the driver reads it around a run to get CPU per call. */
const cpu = (): Response => {
  const c = process.cpuUsage();
  return json({ us: c.user + c.system });
};

const mode = process.argv[2] === 'trpc' ? 'trpc' : 'guarded';

async function guarded(): Promise<string> {
  const guard = createGuard({
    origins: ['https://bench.example'],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    credentials: { header: true },
    permissions: { roles: { bench: ['bench.*'] } },
    messages: { passthrough: ['PING', 'PONG'] },
    limits: FULL_CHECK_LIMITS,
    audit: false,
  });
  // BENCH_SLICE_MS: the bridge's `sliceMs` (default 1), to see what fairness costs.
  const slice = Number(process.env.BENCH_SLICE_MS);
  const bridge = createTRPCBridge({
    router: makeBenchRouter(true),
    guard,
    ...(slice > 0 ? { sliceMs: slice } : {}),
  });
  const { serve } = (await import(`../adapters/${runtime}.ts`)) as {
    serve(options: ServeOptions): Promise<GuardedServer>;
  };
  const server = await serve({
    guard,
    hooks: trpcHooks(bridge),
    fetch: (request) => {
      const path = new URL(request.url).pathname;
      if (path === '/mem') return mem(guard.stats().connections);
      if (path === '/cpu') return cpu();
      return new Response('not found', { status: 404 });
    },
    idleTimeout: 0,
  });
  return server.url;
}

async function trpc(): Promise<string> {
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('ws');
  const { applyWSSHandler } = await import('@trpc/server/adapters/ws');
  const server = createServer((req, res) => {
    (req.url === '/cpu' ? cpu() : mem(wss.clients.size))
      .text()
      .then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  });
  const wss = new WebSocketServer({ server });
  // The baseline's procedures read no context (the guarded checks are left out).
  applyWSSHandler({
    wss,
    router: makeBenchRouter(false),
    createContext: () => ({}) as GuardedContext,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

// A bench server never outlives its driver; SIGTERM exits cleanly (so `--cpu-prof` writes).
setTimeout(() => process.exit(3), 300_000).unref?.();
process.on('SIGTERM', () => process.exit(0));
const url = mode === 'trpc' ? await trpc() : await guarded();
process.stdout.write(`${JSON.stringify({ runtime, mode, url, secret: SECRET })}\n`);
