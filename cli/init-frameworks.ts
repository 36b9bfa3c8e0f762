/**
 * The servers `wsguard init --framework` writes, each mounting the guard on a web framework through
 * its `wsguard/<framework>` integration, and the runtimes each framework runs on. They follow the
 * shape of `examples/integrations/*` (the ticket route, a health route, the graceful close).
 *
 * @module
 */
import {
  type Framework,
  featureImports,
  guardBlock,
  hooksExpr,
  type InitChoice,
  listenConsts,
} from './init-guard.ts';

export type { Framework } from './init-guard.ts';

/** Every framework `--framework` takes. */
export const FRAMEWORKS: readonly Framework[] = [
  'hono',
  'express',
  'fastify',
  'elysia',
  'h3',
  'ws',
];

/** The runtimes each framework's integration supports, the default first (docs/integrations.md). */
export const RUNTIMES_OF: Record<Framework, readonly InitChoice['runtime'][]> = {
  hono: ['node', 'bun', 'deno'],
  express: ['node'],
  fastify: ['node'],
  elysia: ['bun'],
  h3: ['node'],
  ws: ['node'],
};

/** Why `framework` cannot be scaffolded with the rest of the choice, or `undefined` when it can. */
export function frameworkProblem(
  framework: Framework,
  runtime: InitChoice['runtime'],
  trpc: boolean,
): string | undefined {
  const runtimes = RUNTIMES_OF[framework];
  if (!runtimes.includes(runtime))
    return `--framework ${framework} runs on ${runtimes.join(' or ')}, not ${runtime}`;
  if (framework === 'ws' && trpc)
    return "--framework ws keeps the app's own ws handlers; --trpc needs the guard's hooks: use another framework";
  return undefined;
}

/** The packages the scaffold for `c` imports besides wsguard (for the "next: install" line). */
export function frameworkDeps(c: InitChoice): string[] {
  switch (c.framework) {
    case undefined:
      return [];
    case 'hono':
      return c.runtime === 'node' ? ['hono', '@hono/node-server'] : ['hono'];
    case 'express':
      return ['express', '@types/express'];
    default:
      return [c.framework];
  }
}

const HEADER = [
  "// JWT_SECRET: 32 or more random bytes (openssl rand -hex 32); APP_ORIGIN: your page's origin.",
  '// Behind a proxy, give the integration trustProxy (its address ranges) so client IPs are right.',
];

/** The file's top: what it is, the framework's imports, wsguard's, then the guard block. */
function head(c: InitChoice, imports: string[]): string[] {
  return [
    `// The guarded WebSocket server (${c.framework} on ${c.runtime}), written by \`wsguard init\`.`,
    ...HEADER,
    ...imports.filter((l) => !l.includes("'wsguard")),
    ...(c.redis ? ["import { Redis } from 'ioredis';"] : []),
    ...imports.filter((l) => l.includes("'wsguard")),
    ...featureImports(c),
    ...guardBlock(c),
    '',
  ];
}

const LOG_HOST_PORT =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated file's own template string
  'console.log(`guarded WebSocket on ws://${host}:${port}/ws\\n  ${guard.describe()}`)';
const CLOSE = '  await ws.close(); // 1001 to every peer, leases released';

function express(c: InitChoice): string[] {
  return [
    ...head(c, [
      "import { createServer } from 'node:http';",
      "import express from 'express';",
      "import { createGuard, healthHandler } from 'wsguard';",
      "import { guardExpress, nodeServerOptions } from 'wsguard/express';",
    ]),
    `const ws = guardExpress({ guard, hooks: ${hooksExpr(c)} });`,
    'const app = express();',
    "app.all('/ws/ticket', ws.ticket()); // POST, and the same-origin preflight",
    "app.get('/healthz', ws.route(healthHandler()));",
    '',
    "// A 10 s header deadline: Node's own default is 60 s, checked every 30 s.",
    'const server = createServer(nodeServerOptions(), app);',
    'ws.attach(server);',
    ...listenConsts(c),
    `server.listen(port, host, () => ${LOG_HOST_PORT});`,
    "process.on('SIGTERM', async () => {",
    CLOSE,
    '  server.close();',
    '});',
  ];
}

function fastify(c: InitChoice): string[] {
  return [
    ...head(c, [
      "import Fastify from 'fastify';",
      "import { createGuard, healthHandler } from 'wsguard';",
      "import { nodeServerOptions, wsguardFastify } from 'wsguard/fastify';",
    ]),
    "// A 10 s header deadline: Node's own default is 60 s, checked every 30 s.",
    'const app = Fastify({ http: nodeServerOptions() });',
    'await app.register(wsguardFastify, {',
    '  guard,',
    `  hooks: ${hooksExpr(c)},`,
    "  ticketPath: '/ws/ticket',",
    "  routes: { '/healthz': healthHandler() },",
    '});',
    ...listenConsts(c),
    'const url = await app.listen({ port, host });',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated file's own template string
    "console.log(`guarded WebSocket on ${url.replace(/^http/, 'ws')}/ws\\n  ${guard.describe()}`);",
    "process.on('SIGTERM', () => void app.close()); // 1001 to every peer, leases released, then stop",
  ];
}

function h3(c: InitChoice): string[] {
  return [
    ...head(c, [
      "import { H3, serve } from 'h3';",
      "import { createGuard, healthHandler } from 'wsguard';",
      "import { nodeServerOptions } from 'wsguard/adapters/node';",
      "import { guardH3 } from 'wsguard/h3';",
    ]),
    `const ws = guardH3({ guard, hooks: ${hooksExpr(c)} });`,
    'const app = new H3()',
    "  .get('/ws', ws.handler) // a handshake h3 routes here is the guard's; no other is upgraded",
    "  .all('/ws/ticket', ws.ticket()) // POST, and the same-origin preflight",
    "  .get('/healthz', ws.route(healthHandler()));",
    ...listenConsts(c),
    'const server = serve(app, {',
    '  port,',
    '  hostname: host,',
    '  plugins: [ws.plugin],',
    "  gracefulShutdown: false, // srvx's own would close the server without the sockets",
    '  node: nodeServerOptions(), // a 10 s header deadline',
    '});',
    'await server.ready();',
    `${LOG_HOST_PORT};`,
    "process.on('SIGTERM', async () => {",
    CLOSE,
    '  await server.close();',
    '});',
  ];
}

function wsServer(c: InitChoice): string[] {
  return [
    ...head(c, [
      "import { createServer } from 'node:http';",
      "import { type RawData, WebSocketServer } from 'ws';",
      "import { createGuard, type GuardedMessage, ticketHandler } from 'wsguard';",
      "import { connectionOf, guardWebSocketServer, nodeFetchHandler, nodeServerOptions } from 'wsguard/ws';",
    ]),
    '// Your ws app: its handlers stay; only frames the guard let through reach them.',
    'const wss = new WebSocketServer({ noServer: true });',
    "wss.on('connection', (ws, req) => {",
    '  const { ip, principal } = connectionOf(req); // the verified user',
    "  ws.on('message', (_data: RawData, _isBinary: boolean, guarded?: GuardedMessage) => {",
    '    ws.send(JSON.stringify({ from: principal?.sub ?? ip, echo: guarded?.value }));',
    '  });',
    '});',
    '',
    'const ticket = ticketHandler(guard);',
    'const http = nodeFetchHandler((request, client) =>',
    "  new URL(request.url).pathname === '/ws/ticket'",
    '    ? ticket(request, client.ip)',
    "    : new Response('not found', { status: 404 }),",
    ');',
    'const server = createServer(nodeServerOptions(), http);',
    'const upgrade = guardWebSocketServer(wss, { guard });',
    "server.on('upgrade', upgrade); // in place of wss.handleUpgrade(...)",
    ...listenConsts(c),
    `server.listen(port, host, () => ${LOG_HOST_PORT});`,
    "process.on('SIGTERM', async () => {",
    '  await upgrade.close(); // 1001 to every peer, leases released',
    '  server.close();',
    '});',
  ];
}

function elysia(c: InitChoice): string[] {
  return [
    ...head(c, [
      "import { Elysia } from 'elysia';",
      "import { createGuard, healthHandler } from 'wsguard';",
      "import { guardElysia } from 'wsguard/elysia';",
    ]),
    `const ws = guardElysia({ guard, hooks: ${hooksExpr(c)} });`,
    ...listenConsts(c),
    "// `websocket`: the guard's frame limit (maxPayloadLength) and back-pressure limits for Bun.",
    'const app = new Elysia({ websocket: ws.websocket })',
    "  .get('/ws', ws.upgrade)",
    "  .all('/ws/ticket', ws.ticket()) // POST, and the same-origin preflight",
    "  .get('/healthz', ws.route(healthHandler()))",
    // Elysia's 30 s idle timeout would let a partial request hang that long; Bun's 10 s matches.
    `  .listen({ port, hostname: host, idleTimeout: 10 }, () => ${LOG_HOST_PORT});`,
    "process.on('SIGTERM', async () => {",
    CLOSE,
    '  await app.stop();',
    '});',
  ];
}

/** Hono on Bun: `Bun.serve` with the guard's `websocket`, the handshake as the `/ws` route. */
function honoBun(): string[] {
  return [
    "app.get('/ws', ws.upgrade); // the handshake goes to wsguard's Bun adapter",
    "// `websocket` carries the guard's frame limit (maxPayloadLength).",
    'const server = Bun.serve({',
    '  port,',
    '  hostname: host,',
    '  development: false, // its error page shows the stack',
    '  fetch: app.fetch,',
    '  websocket: ws.websocket,',
    '});',
    `${LOG_HOST_PORT};`,
    "process.on('SIGTERM', async () => {",
    CLOSE,
    '  await server.stop();',
    '});',
  ];
}

/** Hono on Node: `@hono/node-server`, the guard's `upgrade` listener attached to its server. */
function honoNode(): string[] {
  return [
    "// Node hands an upgrade to the server's `upgrade` listeners, never to Hono: attach the guard.",
    'const server = serve(',
    '  { fetch: app.fetch, port, hostname: host, serverOptions: nodeServerOptions() },',
    `  () => ${LOG_HOST_PORT},`,
    ');',
    'ws.attach(server);',
    "process.on('SIGTERM', async () => {",
    CLOSE,
    '  server.close();',
    '});',
  ];
}

function hono(c: InitChoice): string[] {
  if (c.runtime === 'deno')
    return [
      ...head(c, [
        "import { Hono } from 'hono';",
        "import { createGuard, healthHandler } from 'wsguard';",
        "import { serve } from 'wsguard/adapters/deno';",
        "import { honoRoutes } from 'wsguard/hono';",
      ]),
      "// wsguard's serve runs the app: its front gives Deno the header deadline and frame limit.",
      'const routes = honoRoutes({ guard });',
      'const app = new Hono();',
      "app.get('/healthz', routes.route(healthHandler()));",
      ...listenConsts(c),
      'const server = await serve({',
      '  guard,',
      `  hooks: ${hooksExpr(c)},`,
      "  fetch: app.fetch, // every request that is not a handshake; POST /ws/ticket is serve's own",
      '  port,',
      '  hostname: host,',
      '});',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated file's own template string
      "console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\\n  ${guard.describe()}`);",
      "process.on('SIGTERM', () => void server.close()); // 1001 to every peer, leases released",
    ];
  const node = c.runtime === 'node';
  return [
    ...head(c, [
      ...(node ? ["import { serve } from '@hono/node-server';"] : []),
      "import { Hono } from 'hono';",
      "import { createGuard, healthHandler } from 'wsguard';",
      ...(node ? ["import { nodeServerOptions } from 'wsguard/adapters/node';"] : []),
      "import { guardHono } from 'wsguard/hono';",
    ]),
    `const ws = guardHono({ guard, hooks: ${hooksExpr(c)} });`,
    'const app = new Hono();',
    "app.all('/ws/ticket', ws.ticket()); // POST, and the same-origin preflight",
    "app.get('/healthz', ws.route(healthHandler()));",
    ...listenConsts(c),
    ...(node ? honoNode() : honoBun()),
  ];
}

const SERVERS: Record<Framework, (c: InitChoice) => string[]> = {
  hono,
  express,
  fastify,
  elysia,
  h3,
  ws: wsServer,
};

/** The server file for `c` on `framework` (a checked combination: {@link frameworkProblem}). */
export function frameworkServer(c: InitChoice, framework: Framework): string {
  return `${SERVERS[framework]({ ...c, framework }).join('\n')}\n`;
}
