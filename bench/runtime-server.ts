/**
 * The server side of `bench/runtimes.bench.ts`, started under Node (tsx), Bun or Deno. It serves
 * three echo servers on port 0 and prints their URLs as one JSON line:
 *
 * - `guarded`: wsguard's adapter for the runtime, full checks (origin, JWT or ticket, bans,
 *   connection rate, IP and user caps, message size, both message rate limiters, JSON parse and
 *   structural scan, forbidden keys),
 *   with budgets high enough that nothing is refused, so every check runs and none short-cuts;
 * - `bare`: crossws's own adapter for the runtime with the same echo hook and no checks;
 * - `bareParse`: the same, with an echo hook that `JSON.parse`s each frame first (what an app
 *   that reads JSON does anyway; the guard's full checks include that parse);
 * - `guardedNoJson`: the guarded echo with `messages.json` off (binary protocols): everything
 *   but the JSON parse and its shape checks, to show what the parse costs inside the guard.
 *
 * `BENCH_JWT_CACHE` (environment): the guards' `jwt.cache` (`0`: off; default: the guard's).
 *
 * HTTP: `POST /tickets?n=N` (guarded) issues N tickets for the bench user; `GET /mem` (both)
 * answers the process's memory after a full GC (Node with --expose-gc) and the open sockets;
 * `GET /cpu` (both) the process's CPU time so far (`process.cpuUsage()`, user + system, µs).
 */
import type { Message, Peer } from 'crossws';
import { createGuard, json } from '../src/mod.ts';
import type { GuardedServer, ServeOptions } from '../src/transport/serve.ts';
import { FULL_CHECK_LIMITS } from './full-check-limits.ts';

/** Shared with the driver. */
const SECRET = 'bench-runtime-secret-0123456789-abcdefghijklmnop';

type Runtime = 'node' | 'bun' | 'deno';
const runtime: Runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';
const g = globalThis as unknown as {
  gc?: () => void;
  Deno?: {
    memoryUsage(): { rss: number; heapUsed: number; external: number };
    serve(o: object, h: (r: Request, i: unknown) => Response | Promise<Response>): unknown;
  };
  Bun?: {
    gc(force: boolean): void;
    serve(o: object): { port: number };
  };
};

let bareSockets = 0;
const echo = {
  message(peer: Peer, message: Message) {
    peer.send(message.rawData);
  },
};
const bareHooks = {
  ...echo,
  open() {
    bareSockets++;
  },
  close() {
    bareSockets--;
  },
};
/** The bare echo of an app that reads JSON: it parses each frame, as the guard does. */
const parseHooks = {
  ...bareHooks,
  message(peer: Peer, message: Message) {
    JSON.parse(message.text());
    peer.send(message.rawData);
  },
};

/** `BENCH_JWT_CACHE=0` turns the verifier's cache of verified tokens off (a number sets its size). */
const jwtCache =
  process.env.BENCH_JWT_CACHE === undefined ? {} : { cache: Number(process.env.BENCH_JWT_CACHE) };
const guardOptions = {
  origins: ['https://bench.example'],
  jwt: { algorithms: ['HS256'], secret: SECRET, ...jwtCache },
  tickets: true,
  credentials: { header: true, ticket: true },
  limits: FULL_CHECK_LIMITS,
  audit: false,
} as const;
const guard = createGuard(guardOptions);
const noJsonGuard = createGuard({ ...guardOptions, messages: { json: false } });

const mem = (sockets: number): Response => {
  if (g.gc) {
    g.gc();
    g.gc();
  }
  g.Bun?.gc(true);
  const m = g.Deno ? g.Deno.memoryUsage() : process.memoryUsage();
  return json({ runtime, sockets, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
};

/** CPU time of the whole process (both servers live in it; the driver measures one at a time). */
const cpu = (): Response => {
  const c = process.cpuUsage();
  return json({ cpuMicros: c.user + c.system });
};

const guardedFetch = async (request: Request): Promise<Response> => {
  const url = new URL(request.url);
  if (url.pathname === '/mem') return mem(guard.stats().connections);
  if (url.pathname === '/cpu') return cpu();
  if (url.pathname === '/tickets') {
    const n = Math.min(10_000, Number(url.searchParams.get('n') ?? 1));
    const principal = { sub: 'bench', roles: ['user'], permissions: [] };
    const tickets: string[] = [];
    for (let i = 0; i < n; i++) tickets.push((await guard.issueTicket(principal)).ticket);
    return json({ tickets });
  }
  return new Response('not found', { status: 404 });
};

const { serve } = (await import(`../adapters/${runtime}.ts`)) as {
  serve(options: ServeOptions): Promise<GuardedServer>;
};
const guarded = await serve({ guard, hooks: echo, fetch: guardedFetch, idleTimeout: 0 });
const guardedNoJson = await serve({
  guard: noJsonGuard,
  hooks: echo,
  fetch: guardedFetch,
  idleTimeout: 0,
});

/** crossws alone on the same runtime, with `hooks`: the baseline. */
async function bare(hooks: typeof bareHooks): Promise<string> {
  if (runtime === 'bun') {
    const ws = (await import('crossws/adapters/bun')).default({ hooks, idleTimeout: 0 });
    const server = g.Bun!.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (request: Request, s: Parameters<typeof ws.handleUpgrade>[1]) => {
        const path = new URL(request.url).pathname;
        if (path === '/mem') return mem(bareSockets);
        if (path === '/cpu') return cpu();
        return ws.handleUpgrade(request, s);
      },
      websocket: ws.websocket,
    });
    return `http://127.0.0.1:${server.port}`;
  }
  if (runtime === 'deno') {
    const ws = (await import('crossws/adapters/deno')).default({ hooks, idleTimeout: 0 });
    return new Promise((resolve) => {
      g.Deno!.serve(
        {
          port: 0,
          hostname: '127.0.0.1',
          onListen: ({ port }: { port: number }) => resolve(`http://127.0.0.1:${port}`),
        },
        (request: Request, info: unknown) => {
          const path = new URL(request.url).pathname;
          if (path === '/mem') return mem(bareSockets);
          if (path === '/cpu') return cpu();
          return ws.handleUpgrade(request, info as Parameters<typeof ws.handleUpgrade>[1]);
        },
      );
    });
  }
  const { createServer } = await import('node:http');
  const ws = (await import('crossws/adapters/node')).default({ hooks, idleTimeout: 0 });
  const server = createServer((req, res) => {
    const r = req.url === '/cpu' ? cpu() : mem(bareSockets);
    res.writeHead(200, { 'content-type': 'application/json' });
    r.text().then((body) => res.end(body));
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    ws.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

// A bench server never outlives its driver.
setTimeout(() => process.exit(3), 600_000);
// SIGINT exits cleanly, so `node --cpu-prof` on this process writes its profile.
if (runtime === 'node') process.once('SIGINT', () => process.exit(0));
const urls = { bare: await bare(bareHooks), bareParse: await bare(parseHooks) };
process.stdout.write(
  `${JSON.stringify({ runtime, guarded: guarded.url, guardedNoJson: guardedNoJson.url, ...urls, secret: SECRET })}\n`,
);
