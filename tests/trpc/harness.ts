/**
 * A minimal Node server for bridge tests: `ws` in noServer mode in front of the guard and the
 * bridge, the same sequence the adapters run (upgrade decision → socket → every frame through
 * the guard, in order → bridge).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Guard, GuardConnection } from '../../src/mod.ts';
import type { TRPCBridge } from '../../src/trpc.ts';

export interface Harness {
  url: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Address to listen on (the cluster tests give each instance its own 127.0.0.x). */
  host?: string;
  /** Plain HTTP requests (not upgrades), e.g. a test's control endpoints; 404 when unset. */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') headers.set(k, v);
    else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
  }
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { headers });
}

export async function startHarness(
  guard: Guard,
  bridge: TRPCBridge,
  options: HarnessOptions = {},
): Promise<Harness> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer(
    options.onRequest ??
      ((_req, res) => {
        res.writeHead(404).end();
      }),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: guard.maxBytes });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const request = toRequest(req);
    guard.upgrade({ request, ip: req.socket.remoteAddress ?? '0.0.0.0' }).then((d) => {
      if (!d.ok && d.mode === 'http') {
        socket.end(
          `HTTP/1.1 ${d.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (!d.ok) {
          ws.on('error', () => {});
          ws.close(d.closeCode, d.message);
          return;
        }
        // ws reports protocol errors (oversized frame: 1009) as 'error' then closes; without a
        // listener that error would be an uncaught exception.
        ws.on('error', () => {});
        const conn: GuardConnection = d.connection;
        const session = bridge.open(
          {
            send: (data) => ws.send(data),
            close: (c, r) => ws.close(c, r),
            get bufferedAmount() {
              return ws.bufferedAmount;
            },
          },
          conn,
          request,
        );
        guard.attach(conn, (code, reason) => ws.close(code, reason));
        let chain: Promise<void> = Promise.resolve();
        ws.on('message', (data, isBinary) => {
          const frame = isBinary ? (data as Buffer) : data.toString();
          chain = chain.then(async () => {
            const v = await guard.message(conn, frame);
            if (v.action === 'deliver') bridge.message(session, v.value);
            else if (v.action === 'reply') ws.send(JSON.stringify(v.reply));
            else ws.close(v.code, v.message);
          });
        });
        ws.on('close', (code) => {
          bridge.close(session);
          void guard.close(conn, code);
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://${host}:${port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => server.close(r));
    },
  };
}
