// Express 5 with wsguard: the guarded WebSocket on the server Express listens on, and the guard's
// routes as Express handlers.
import { createServer } from 'node:http';
import express from 'express';
import { createGuard, healthHandler, statsHandler } from 'wsguard';
import { guardExpress, nodeServerOptions } from 'wsguard/express';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

const ws = guardExpress({
  guard,
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  trustProxy: ['10.0.0.0/8'], // for the handshake and for these routes alike
});

const app = express();
app.use(express.json()); // before or after the guard's routes: either works
app.all('/ws/ticket', ws.ticket()); // POST, and the same-origin preflight
app.get('/ws/stats', ws.route(statsHandler(guard))); // bearer with the `admin` permission
app.get('/healthz', ws.route(healthHandler()));

// A 10 s header deadline: Node's own default is 60 s, checked every 30 s.
const server = createServer(nodeServerOptions(), app);
ws.attach(server);
const [port, host] = [Number(process.env.PORT ?? 8787), process.env.HOST ?? '127.0.0.1'];
server.listen(port, host, () =>
  console.log(`guarded WebSocket on ws://${host}:${port}/ws\n  ${guard.describe()}`),
);
process.on('SIGTERM', async () => {
  await ws.close(); // 1001 to every peer, leases released
  server.close();
});
