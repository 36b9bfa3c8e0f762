// Hono on Bun with wsguard: the guarded WebSocket as the `/ws` route, the guard's routes as Hono
// handlers. Run with `bun run server.ts`.
import { Hono } from 'hono';
import { createGuard, healthHandler, statsHandler } from 'wsguard';
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
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  trustProxy: ['10.0.0.0/8'], // for the handshake and for these routes alike
});

const app = new Hono();
app.get('/ws', ws.upgrade); // the handshake goes to wsguard's Bun adapter
app.all('/ws/ticket', ws.ticket()); // POST, and the same-origin preflight
app.get('/ws/stats', ws.route(statsHandler(guard))); // bearer with the `admin` permission
app.get('/healthz', ws.route(healthHandler()));

// `websocket` carries the guard's frame limit (`maxPayloadLength`).
const server = Bun.serve({
  port: Number(process.env.PORT ?? 8787),
  hostname: process.env.HOST ?? '127.0.0.1',
  development: false, // Bun's development mode answers errors with a page that shows the stack
  fetch: app.fetch,
  websocket: ws.websocket,
});
console.log(
  `guarded WebSocket on ws://${server.hostname}:${server.port}/ws\n  ${guard.describe()}`,
);
process.on('SIGTERM', async () => {
  await ws.close(); // 1001 to every peer, leases released
  await server.stop();
});
