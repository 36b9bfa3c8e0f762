// Fastify 5 with wsguard: one plugin for the guarded WebSocket on `app.server` and the guard's
// routes.
import Fastify from 'fastify';
import { createGuard, healthHandler, statsHandler } from 'wsguard';
import { nodeServerOptions, wsguardFastify } from 'wsguard/fastify';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

// A 10 s header deadline: Node's own default is 60 s, checked every 30 s.
const app = Fastify({ http: nodeServerOptions() });
await app.register(wsguardFastify, {
  guard,
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  trustProxy: ['10.0.0.0/8'], // for the handshake and for these routes alike
  ticketPath: '/ws/ticket',
  routes: { '/ws/stats': statsHandler(guard), '/healthz': healthHandler() },
});
const url = await app.listen({
  port: Number(process.env.PORT ?? 8787),
  host: process.env.HOST ?? '127.0.0.1',
});
console.log(`guarded WebSocket on ${url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
process.on('SIGTERM', () => void app.close()); // 1001 to every peer, leases released, then stop
