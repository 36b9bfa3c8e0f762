// Elysia on Bun with wsguard: the guarded WebSocket as the `/ws` route, the guard's routes as
// Elysia handlers. Run with `bun run server.ts`.
import { Elysia } from 'elysia';
import { createGuard, healthHandler, statsHandler } from 'wsguard';
import { guardElysia } from 'wsguard/elysia';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

const ws = guardElysia({
  guard,
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  trustProxy: ['10.0.0.0/8'], // for the handshake and for these routes alike
});

// `websocket`: the guard's frame limit (`maxPayloadLength`) and back-pressure limits for Bun.
const app = new Elysia({ websocket: ws.websocket })
  .get('/ws', ws.upgrade) // the handshake goes to wsguard's Bun adapter
  .all('/ws/ticket', ws.ticket()) // POST, and the same-origin preflight
  .get('/ws/stats', ws.route(statsHandler(guard))) // bearer with the `admin` permission
  .get('/healthz', ws.route(healthHandler()))
  .listen(
    {
      port: Number(process.env.PORT ?? 8787),
      hostname: process.env.HOST ?? '127.0.0.1',
      // Elysia sets Bun's HTTP idle timeout to 30 s: a partial request on a kept-alive connection
      // would hang that long. Bun's default, 10 s, matches the guard's header deadline.
      idleTimeout: 10,
    },
    ({ hostname, port }) =>
      console.log(`guarded WebSocket on ws://${hostname}:${port}/ws\n  ${guard.describe()}`),
  );

process.on('SIGTERM', async () => {
  await ws.close(); // 1001 to every peer, leases released
  await app.stop();
});
