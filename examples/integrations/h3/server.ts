// h3 v2 on Node with wsguard: the guarded WebSocket as an h3 route (served by the guard's srvx
// plugin on the server h3's `serve` creates), the guard's routes as h3 handlers.
import { H3, serve } from 'h3';
import { createGuard, healthHandler, statsHandler } from 'wsguard';
import { nodeServerOptions } from 'wsguard/adapters/node';
import { guardH3 } from 'wsguard/h3';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

const ws = guardH3({
  guard,
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  trustProxy: ['10.0.0.0/8'], // for the handshake and for these routes alike
});

const app = new H3()
  .get('/ws', ws.handler) // a handshake h3 routes here is the guard's; no other is upgraded
  .all('/ws/ticket', ws.ticket()) // POST, and the same-origin preflight
  .get('/ws/stats', ws.route(statsHandler(guard))) // bearer with the `admin` permission
  .get('/healthz', ws.route(healthHandler()));

const server = serve(app, {
  port: Number(process.env.PORT ?? 8787),
  hostname: process.env.HOST ?? '127.0.0.1',
  plugins: [ws.plugin],
  // srvx's own SIGTERM handler would close the server without the sockets.
  gracefulShutdown: false,
  // A 10 s header deadline: Node's own default is 60 s, checked every 30 s.
  node: nodeServerOptions(),
});
await server.ready(); // srvx's `url` is then set, and ends with `/`
console.log(`guarded WebSocket on ${server.url?.replace(/^http/, 'ws')}ws\n  ${guard.describe()}`);
process.on('SIGTERM', async () => {
  await ws.close(); // 1001 to every peer, leases released
  await server.close();
});
