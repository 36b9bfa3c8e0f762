/**
 * Tiny real servers on loopback for the client's tests: a socket endpoint whose every handshake
 * follows a script (close with a code, refuse the HTTP upgrade, or accept and answer tRPC
 * queries), and a ticket endpoint whose answer the test sets. Each counts what it saw.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

/** What the server does with one handshake. */
export type Step =
  /** Accept, then close at once with this code and reason. */
  | { close: number; reason?: string }
  /** Refuse the HTTP upgrade with this status (a browser sees 1006). */
  | { status: number; headers?: Record<string, string> }
  /** Accept and answer every tRPC query or mutation with its path. */
  | 'serve';

/** A ticket endpoint's answer. */
export interface TicketAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface ScriptedServer {
  /** `ws://127.0.0.1:<port>/ws` */
  wsUrl: string;
  /** `http://127.0.0.1:<port>` */
  httpUrl: string;
  /** Handshakes seen (upgrades, accepted or not). */
  connections(): number;
  /** Sockets open now. */
  openSockets(): number;
  /** Ticket requests seen. */
  tickets(): number;
  /** The `ticket` query parameter of each handshake. */
  ticketsPresented(): string[];
  /** Replace the script for the handshakes to come. */
  setStep(step: Step | ((n: number) => Step)): void;
  /** Replace the ticket endpoint's answer. */
  setTicket(answer: TicketAnswer | ((n: number) => TicketAnswer)): void;
  close(): Promise<void>;
}

/** Start a scripted server; `cleanups` gets its `close`. */
export async function scriptedServer(
  step: Step | ((n: number) => Step),
  cleanups: (() => Promise<void> | void)[],
  ticket: TicketAnswer | ((n: number) => TicketAnswer) = {
    status: 200,
    body: JSON.stringify({ ticket: 't', expiresIn: 10 }),
  },
): Promise<ScriptedServer> {
  let script = typeof step === 'function' ? step : () => step;
  let answer = typeof ticket === 'function' ? ticket : () => ticket;
  let connections = 0;
  let tickets = 0;
  const presented: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/ws/ticket')) {
      const a = answer(++tickets);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body ?? '');
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const n = ++connections;
    presented.push(new URL(req.url ?? '/', 'http://x').searchParams.get('ticket') ?? '');
    const s = script(n);
    if (typeof s === 'object' && 'status' in s) {
      const extra = Object.entries(s.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(
        `HTTP/1.1 ${s.status} Refused\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      if (typeof s === 'object') {
        ws.close(s.close, s.reason ?? '');
        return;
      }
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'PING') return ws.send('PONG');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return;
        }
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
          const msg = m as { id?: number; method?: string; params?: { path?: string } };
          if (msg.method === 'query' || msg.method === 'mutation')
            ws.send(
              JSON.stringify({ id: msg.id, result: { type: 'data', data: msg.params?.path } }),
            );
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = () =>
    new Promise<void>((r) => {
      if (closed) return r();
      closed = true;
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      server.close(() => r());
    });
  cleanups.push(close);
  return {
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    connections: () => connections,
    openSockets: () => wss.clients.size,
    tickets: () => tickets,
    ticketsPresented: () => presented,
    setStep: (next) => {
      script = typeof next === 'function' ? next : () => next;
    },
    setTicket: (next) => {
      answer = typeof next === 'function' ? next : () => next;
    },
    close,
  };
}

/** The `ws` package's WebSocket, typed as the Web one the client takes. */
export const WS = WebSocket as unknown as typeof globalThis.WebSocket;

/** Wait `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The error a rejected promise ends with (or a failure if it resolves), within `ms`. */
export async function rejection(promise: Promise<unknown>, ms = 2000): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => new Error('expected a rejection, got a result'),
        (error: unknown) => error,
      ),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
