// The same `ws` app with wsguard: the handlers stay, the guard takes the handshake and the frames.
import { createServer } from 'node:http';
import { type RawData, WebSocketServer } from 'ws';
import { createGuard, type GuardedMessage, ticketHandler } from 'wsguard';
import {
  connectionOf,
  guardWebSocketServer,
  nodeFetchHandler,
  nodeServerOptions,
} from 'wsguard/ws';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  messages: { maxBytes: 64 * 1024 }, // becomes `maxPayload`: checked from the frame header
});
const trustProxy = ['10.0.0.0/8'];

const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws, req) => {
  const { ip, principal } = connectionOf(req); // ip after trustProxy; the verified user
  ws.on('message', (_data: RawData, _isBinary: boolean, guarded?: GuardedMessage) => {
    // Only frames the guard let through arrive here; `value` is the JSON it already parsed.
    ws.send(JSON.stringify({ from: principal?.sub ?? ip, value: guarded?.value }));
  });
});

// Plain HTTP: the ticket endpoint (a browser's credential for the handshake).
const ticket = ticketHandler(guard);
const http = nodeFetchHandler((request, client) => ticket(request, client.ip), { trustProxy });
const server = createServer(nodeServerOptions(), http);
const upgrade = guardWebSocketServer(wss, { guard, trustProxy });
server.on('upgrade', upgrade); // in place of `wss.handleUpgrade(...)`
const [port, host] = [Number(process.env.PORT ?? 8787), process.env.HOST ?? '127.0.0.1'];
server.listen(port, host, () =>
  console.log(`guarded WebSocket on ws://${host}:${port}/ws\n  ${guard.describe()}`),
);
process.on('SIGTERM', async () => {
  await upgrade.close(); // 1001 to every peer, leases released
  server.close();
});
