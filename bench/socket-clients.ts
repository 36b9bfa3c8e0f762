/**
 * The `ws` clients of `bench/runtimes.bench.ts`: handshakes opened and reset, and echo clients
 * that keep frames in flight. Shared by every server of a run (bare, guarded, before and after),
 * so the client side costs the same for all.
 *
 * @module
 */
import WebSocket from 'ws';
import { CHAT_FRAME } from './guard.bench.ts';

let address = 0;
/** Rotate source addresses: thousands of handshakes would exhaust one address's ports. */
export const nextAddress = (): string => {
  address = (address + 1) % 60_000;
  return `127.${8 + Math.floor(address / 62_500)}.${Math.floor(address / 250) % 250}.${(address % 250) + 1}`;
};

/** The WebSocket URL of a server's `http://` base URL. */
export const wsUrl = (base: string, path = '/'): string => `${base.replace(/^http/, 'ws')}${path}`;

/**
 * Open `n` sockets, 8 at a time; each is counted once open, then reset. With `perSec`, the k-th
 * starts no earlier than k / `perSec` seconds in: an open-loop pace below what either side can
 * do, so that neither waits on the other (see `bench/affinity.ts` for why that matters).
 */
export async function handshakes(
  n: number,
  next: () => { url: string; headers?: Record<string, string> },
  perSec?: number,
): Promise<void> {
  let started = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < n) {
      const k = started++;
      if (perSec !== undefined) {
        const wait = t0 + (k * 1000) / perSec - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const { url, headers } = next();
      await new Promise<void>((ok, fail) => {
        const ws = new WebSocket(url, {
          perMessageDeflate: false,
          localAddress: nextAddress(),
          ...(headers ? { headers } : {}),
        });
        ws.once('open', () => {
          ws.terminate();
          ok();
        });
        ws.once('error', fail);
        ws.once('unexpected-response', (_req, res) => fail(new Error(`status ${res.statusCode}`)));
        ws.once('close', (code) => fail(new Error(`closed ${code} before open`)));
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, n) }, worker));
}

/** Echo clients: `run(n)` resolves once `n` more echoes came back. */
export interface EchoClients {
  /** Send until `n` more echoes are back. */
  readonly run: (n: number) => Promise<void>;
  /** Reset every socket. */
  readonly close: () => void;
}

/** 8 clients with 8 frames in flight each, the 197-byte chat frame. */
export async function echoClients(
  url: string,
  headers: Record<string, string> = {},
): Promise<EchoClients> {
  const clients = await Promise.all(
    Array.from(
      { length: 8 },
      () =>
        new Promise<WebSocket>((ok, fail) => {
          const ws = new WebSocket(url, {
            perMessageDeflate: false,
            localAddress: nextAddress(),
            headers,
          });
          ws.once('open', () => ok(ws));
          ws.once('error', fail);
        }),
    ),
  );
  let target = 0;
  let received = 0;
  let sent = 0;
  let done: (() => void) | undefined;
  const pump = (ws: WebSocket) => {
    if (sent < target) {
      sent++;
      ws.send(CHAT_FRAME);
    }
  };
  for (const ws of clients)
    ws.on('message', () => {
      received++;
      if (received >= target) done?.();
      else pump(ws);
    });
  return {
    run: (n: number) =>
      new Promise<void>((ok) => {
        target += n;
        done = ok;
        for (const ws of clients) for (let i = 0; i < 8; i++) pump(ws);
      }),
    close: () => {
      for (const ws of clients) ws.terminate();
    },
  };
}
