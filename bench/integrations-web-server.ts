/**
 * The server processes of `bench/integrations-web.bench.ts`: one JSON echo per web framework,
 * guarded and the framework's own unguarded WebSocket side by side, in one process per runtime so
 * that one CPU counter covers a pair:
 *
 * - on Node: Hono (`guardHono` + `attach` on `@hono/node-server`, against `@hono/node-ws`) and
 *   h3 (`guardH3`'s route and plugin, against `defineWebSocketHandler` with crossws's plugin);
 * - on Bun: Hono (`guardHono`'s middleware, against `hono/bun`'s `upgradeWebSocket`) and Elysia
 *   (`guardElysia`'s route, against Elysia's `.ws()`).
 *
 * Every unguarded app parses the JSON itself and echoes it; every guarded one echoes the value the
 * guard parsed. Prints `{"urls":{…},"secret":…}`; `GET /cpu` on `urls.control` gives the process's
 * CPU time. Exits by itself after 10 minutes.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGuard, type GuardedHooks } from '../src/mod.ts';
import { FULL_CHECK_LIMITS } from './full-check-limits.ts';

const secret = randomBytes(32).toString('hex');
/** As `bench/runtime-server.ts`'s: every check on, limits out of the way of the load. */
const guard = () =>
  createGuard({
    origins: ['https://bench.example'],
    jwt: { algorithms: ['HS256'], secret },
    limits: FULL_CHECK_LIMITS,
    audit: false,
  });
const echo: GuardedHooks = {
  message: (peer, _m, { value }) => peer.send(JSON.stringify(value)),
};
/** What an unguarded app does: parse the frame, echo the value. */
const parse = (data: unknown): string =>
  JSON.stringify(
    JSON.parse(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString()),
  );

interface BunServer {
  readonly port: number;
}
const bun = (globalThis as { Bun?: { serve(options: object): BunServer } }).Bun;
const bunUrl = (server: { port?: number } | null | undefined) => `http://127.0.0.1:${server?.port}`;

async function honoNode(): Promise<{ honoGuarded: string; honoBare: string }> {
  const { serve } = await import('@hono/node-server');
  const { createNodeWebSocket } = await import('@hono/node-ws');
  const { Hono } = await import('hono');
  const { guardHono } = await import('../adapters/hono.ts');
  const listen = (app: { fetch: (r: Request, env: never) => unknown }) =>
    new Promise<ReturnType<typeof serve>>((ok) => {
      const s = serve({ fetch: app.fetch as never, port: 0, hostname: '127.0.0.1' }, () => ok(s));
    });
  const ws = guardHono({ guard: guard(), hooks: echo, runtime: 'node' });
  const guarded = await listen(new Hono());
  ws.attach(guarded);
  const bare = new Hono();
  const nodeWs = createNodeWebSocket({ app: bare });
  bare.get(
    '/',
    nodeWs.upgradeWebSocket(() => ({ onMessage: (event, c) => c.send(parse(event.data)) })),
  );
  const bareServer = await listen(bare);
  nodeWs.injectWebSocket(bareServer);
  const url = (s: ReturnType<typeof serve>) =>
    `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return { honoGuarded: url(guarded), honoBare: url(bareServer) };
}

async function h3Node(): Promise<{ h3Guarded: string; h3Bare: string }> {
  const { H3, serve, defineWebSocketHandler } = await import('h3');
  const { plugin } = await import('crossws/server/node');
  const { guardH3 } = await import('../adapters/h3.ts');
  const ws = guardH3({ guard: guard(), hooks: echo });
  const opts = { port: 0, hostname: '127.0.0.1', silent: true, gracefulShutdown: false } as const;
  const guarded = serve(new H3().get('/', ws.handler), { ...opts, plugins: [ws.plugin] });
  const bareApp = new H3().get(
    '/',
    defineWebSocketHandler({
      message(peer, message) {
        peer.send(parse(message.text()));
      },
    }),
  );
  const bare = serve(bareApp, { ...opts, plugins: [plugin({})] });
  await Promise.all([guarded.ready(), bare.ready()]);
  return { h3Guarded: guarded.url!.replace(/\/$/, ''), h3Bare: bare.url!.replace(/\/$/, '') };
}

async function honoBun(): Promise<{ honoGuarded: string; honoBare: string }> {
  const { Hono } = await import('hono');
  const { upgradeWebSocket, websocket } = await import('hono/bun');
  const { guardHono } = await import('../adapters/hono.ts');
  const ws = guardHono({ guard: guard(), hooks: echo });
  const guardedApp = new Hono().get('/', ws.upgrade);
  const bareApp = new Hono().get(
    '/',
    upgradeWebSocket(() => ({ onMessage: (event, c) => c.send(parse(event.data)) })),
  );
  const base = { port: 0, hostname: '127.0.0.1', development: false };
  const g = bun!.serve({ ...base, fetch: guardedApp.fetch, websocket: ws.websocket });
  const b = bun!.serve({ ...base, fetch: bareApp.fetch, websocket });
  return { honoGuarded: bunUrl(g), honoBare: bunUrl(b) };
}

async function elysiaBun(): Promise<{ elysiaGuarded: string; elysiaBare: string }> {
  const { Elysia } = await import('elysia');
  const { guardElysia } = await import('../adapters/elysia.ts');
  const ws = guardElysia({ guard: guard(), hooks: echo });
  const listen = { port: 0, hostname: '127.0.0.1', development: false };
  const g = new Elysia({ websocket: ws.websocket }).get('/', ws.upgrade).listen(listen);
  // Elysia parses a JSON text frame itself before `message`; echo what it parsed. (Block body:
  // Elysia sends whatever `message` returns, and `send` returns the byte count.)
  const b = new Elysia()
    .ws('/', {
      message(socket, message) {
        socket.send(JSON.stringify(message));
      },
    })
    .listen(listen);
  return { elysiaGuarded: bunUrl(g.server), elysiaBare: bunUrl(b.server) };
}

const control = createServer((_req, res) => {
  const { user, system } = process.cpuUsage();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ cpuMicros: user + system }));
});
await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
const urls = {
  control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
  ...(bun
    ? { ...(await honoBun()), ...(await elysiaBun()) }
    : { ...(await honoNode()), ...(await h3Node()) }),
};
setTimeout(() => process.exit(0), 600_000).unref();
process.stdout.write(`${JSON.stringify({ urls, secret })}\n`);
