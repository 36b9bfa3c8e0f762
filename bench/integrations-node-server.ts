/**
 * The server process of `bench/integrations-node.bench.ts`: one JSON echo per integration on Node,
 * guarded and the framework's own unguarded WebSocket side by side, in one process so that one CPU
 * counter covers them all:
 *
 * - express: `guardExpress` on an Express server, and plain `ws` on another Express server's
 *   `upgrade` (Express has no WebSocket of its own);
 * - fastify: the `wsguardFastify` plugin, and `@fastify/websocket` (a `{ websocket: true }` route);
 * - ws: `guardWebSocketServer` on a `ws` app, and the same app on `wss.handleUpgrade`.
 *
 * Every unguarded app parses the JSON itself and echoes it; every guarded one echoes the value the
 * guard parsed. Prints `{"urls":{…},"secret":…}`; `GET /cpu` on `urls.control` gives the process's
 * CPU time. Exits by itself after 10 minutes.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fastifyWebsocket from '@fastify/websocket';
import express from 'express';
import Fastify from 'fastify';
import { type RawData, WebSocketServer } from 'ws';
import { guardExpress } from '../adapters/express.ts';
import { wsguardFastify } from '../adapters/fastify.ts';
import { guardWebSocketServer } from '../adapters/ws.ts';
import type { GuardedMessage } from '../src/guard/types.ts';
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
const parseEcho = (ws: { send(data: string): void }, data: RawData): void => {
  ws.send(JSON.stringify(JSON.parse(String(data))));
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function expressGuarded(): Promise<string> {
  const ws = guardExpress({ guard: guard(), hooks: echo });
  const server = createServer(express());
  ws.attach(server);
  return listen(server);
}

async function expressBare(): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data) => parseEcho(ws, data)));
  const server = createServer(express());
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  );
  return listen(server);
}

async function fastifyGuarded(): Promise<string> {
  const app = Fastify();
  await app.register(wsguardFastify, { guard: guard(), hooks: echo });
  return app.listen({ port: 0, host: '127.0.0.1' });
}

async function fastifyBare(): Promise<string> {
  const app = Fastify();
  await app.register(fastifyWebsocket);
  app.get('/', { websocket: true }, (socket) => {
    socket.on('message', (data: RawData) => parseEcho(socket, data));
  });
  return app.listen({ port: 0, host: '127.0.0.1' });
}

async function wsGuarded(): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) =>
    ws.on('message', (_data: RawData, _isBinary: boolean, guarded?: GuardedMessage) =>
      ws.send(JSON.stringify(guarded?.value)),
    ),
  );
  const server = createServer();
  server.on('upgrade', guardWebSocketServer(wss, { guard: guard() }));
  return listen(server);
}

async function wsBare(): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data) => parseEcho(ws, data)));
  const server = createServer();
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  );
  return listen(server);
}

const control = createServer((_req, res) => {
  const { user, system } = process.cpuUsage();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ cpuMicros: user + system }));
});

const urls = {
  control: await listen(control),
  expressGuarded: await expressGuarded(),
  expressBare: await expressBare(),
  fastifyGuarded: await fastifyGuarded(),
  fastifyBare: await fastifyBare(),
  wsGuarded: await wsGuarded(),
  wsBare: await wsBare(),
};
setTimeout(() => process.exit(0), 600_000).unref();
process.stdout.write(`${JSON.stringify({ urls, secret })}\n`);
