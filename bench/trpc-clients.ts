/**
 * The `ws` clients of `bench/trpc.bench.ts`, speaking tRPC's wire protocol in raw frames (so the
 * client side costs the same, and little, for every server of a run: tRPC's own, and wsguard's
 * bridge before and after).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';

/** A started bench server. */
export interface Server {
  /** Row label. */
  readonly name: string;
  /** Its process. */
  readonly child: ChildProcess;
  /** Its WebSocket URL. */
  readonly url: string;
  /** Handshake headers (a JWT for a guarded server). */
  readonly headers: Record<string, string>;
}

/** Clients driven by the harness: `run(n)` resolves once `n` more operations are done. */
export interface Clients {
  /** Run `n` more operations. */
  readonly run: (n: number) => Promise<void>;
  /** Throw if any operation failed or went missing. */
  readonly verify: () => void;
  /** Reset every socket. */
  readonly close: () => void;
}

let address = 0;
/** Rotate source addresses: 1,000 sockets from one address is fine, but keep caps per IP apart. */
const nextAddress = (): string => {
  address = (address + 1) % 60_000;
  return `127.${20 + Math.floor(address / 62_500)}.${Math.floor(address / 250) % 250}.${(address % 250) + 1}`;
};

/** Open one socket to `server`, with its credentials, from the next source address. */
export function open(server: Server): Promise<WebSocket> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(server.url, {
      perMessageDeflate: false,
      localAddress: nextAddress(),
      headers: server.headers,
    });
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`status ${res.statusCode}`)));
  });
}

/** Open `n` sockets to `server`, 50 at a time. */
export async function openMany(server: Server, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 50)
    out.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => open(server)))),
    );
  return out;
}

/** `conns` connections with `inflight` mutations in flight each; `run(n)` resolves after n answers. */
export async function mutationClients(
  server: Server,
  conns: number,
  inflight: number,
): Promise<Clients> {
  const clients = await openMany(server, conns);
  let target = 0;
  let received = 0;
  let sent = 0;
  let errors = 0;
  let done: (() => void) | undefined;
  let nextId = 0;
  const pump = (ws: WebSocket) => {
    if (sent >= target) return;
    sent++;
    const id = ++nextId;
    ws.send(`{"id":${id},"method":"mutation","params":{"path":"add","input":{"a":1,"b":2}}}`);
  };
  for (const ws of clients)
    ws.on('message', (data: Buffer) => {
      received++;
      if (!data.includes('"result"')) errors++;
      if (received >= target) done?.();
      else pump(ws);
    });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        target += n;
        done = ok;
        for (const ws of clients) for (let i = 0; i < inflight; i++) pump(ws);
      }),
    verify: () => {
      if (errors > 0) throw new Error(`${server.name}: ${errors} mutations failed`);
    },
    close: () => {
      for (const ws of clients) ws.terminate();
    },
  };
}

/** One subscriber; `run(n)` subscribes to a burst of n events and resolves at `stopped`. */
export async function subscriber(server: Server, path: string): Promise<Clients> {
  const ws = await open(server);
  let id = 0;
  let events = 0;
  let expected = 0;
  let done: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    events++;
    if (data.includes('"stopped"')) done?.();
  });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        expected += n + 2; // started, n events, stopped
        done = ok;
        ws.send(
          `{"id":${++id},"method":"subscription","params":{"path":"${path}","input":{"n":${n}}}}`,
        );
      }),
    verify: () => {
      if (events !== expected)
        throw new Error(`${server.name} ${path}: ${events} frames, expected ${expected}`);
    },
    close: () => ws.terminate(),
  };
}
