// A plain `ws` app before wsguard: each check is the app's own, or missing.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const server = createServer();
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  const ip = req.socket.remoteAddress; // the proxy's address behind a load balancer
  ws.on('message', (data) => {
    let value: unknown;
    try {
      value = JSON.parse(String(data));
    } catch {
      ws.close(1003, 'bad json');
      return;
    }
    ws.send(JSON.stringify({ from: ip, value }));
  });
});

server.on('upgrade', (req, socket, head) => {
  if (req.headers.origin !== 'https://app.example.com') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(8787, '127.0.0.1');
