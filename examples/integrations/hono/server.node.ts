// Hono on Node (`@hono/node-server`) with wsguard: the guarded handshake on the server `serve()`
// returns (Node never hands an upgrade to Hono), the guard's routes as Hono handlers.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createGuard, healthHandler } from 'wsguard';
import { nodeServerOptions } from 'wsguard/adapters/node';
import { guardHono } from 'wsguard/hono';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});
const ws = guardHono({
  guard,
  hooks: { message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) },
  trustProxy: ['10.0.0.0/8'],
});

const app = new Hono();
app.all('/ws/ticket', ws.ticket());
app.get('/healthz', ws.route(healthHandler()));

// A 10 s header deadline: Node's own default is 60 s, checked every 30 s.
const server = serve(
  {
    fetch: app.fetch,
    port: Number(process.env.PORT ?? 8787),
    hostname: process.env.HOST ?? '127.0.0.1',
    serverOptions: nodeServerOptions(),
  },
  ({ address, port }) =>
    console.log(`guarded WebSocket on ws://${address}:${port}/ws\n  ${guard.describe()}`),
);
ws.attach(server);
process.on('SIGTERM', async () => {
  await ws.close(); // 1001 to every peer, leases released
  server.close();
});
