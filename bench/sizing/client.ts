/**
 * A client process of the sizing run, started by `run.ts` as `node --import tsx
 * bench/sizing/client.ts` with an IPC channel. It holds the connections `[SIZING_FROM, SIZING_TO)`
 * of the run, each from its own source address and as its own user (`plan.ts`), and does what the
 * driver asks, one phase at a time:
 *
 * - `open {from, to, mode}`: open those connections, `SIZING_CONCURRENCY` handshakes in flight;
 * - `frames`: every open connection sends `FRAMES_PER_CONNECTION` frames and waits for the app's
 *   acknowledgements (bounded: 500 connections at a time, 10 s a batch);
 * - `storm`: from now on a socket the server closes reconnects with the client's policy
 *   (`reconnect.ts`), with a ticket;
 * - `status`: open sockets, reconnects done and pending, refusals by outcome, attempts;
 * - `close`: close every socket (1000).
 *
 * @module
 */
import { SignJWT } from 'jose';
import type WebSocket from 'ws';
import { type AuthMode, connectOnce } from './connect.ts';
import { answer } from './ipc.ts';
import {
  addressOf,
  CHAT_FRAME,
  FRAMES_PER_CONNECTION,
  instanceOf,
  SIZING_SECRET,
  ticketInstanceOf,
  userOf,
} from './plan.ts';
import { createReconnector, type Reconnector } from './reconnect.ts';

const urls = JSON.parse(process.env['SIZING_URLS'] ?? '[]') as string[];
const from = Number(process.env['SIZING_FROM']);
const to = Number(process.env['SIZING_TO']);
const concurrency = Number(process.env['SIZING_CONCURRENCY'] ?? 64);

interface Conn {
  readonly i: number;
  ws?: WebSocket;
  acks: number;
  reconnector: Reconnector;
}
const conns = new Map<number, Conn>();
const tokens = new Map<string, string>();
const key = new TextEncoder().encode(SIZING_SECRET);

/** Sign every user's token once (signing per handshake would measure jose on the client). */
async function signAll(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (let i = from; i < to; i++) {
    const sub = userOf(i);
    if (tokens.has(sub)) continue;
    const token = await new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuedAt(now - 60)
      .setExpirationTime(now + 3600)
      .sign(key);
    tokens.set(sub, token);
  }
}

const target = (i: number, mode: AuthMode) => ({
  base: urls[instanceOf(i, urls.length)]!,
  ticketBase: urls[ticketInstanceOf(i, urls.length)]!,
  localAddress: addressOf(i),
  token: tokens.get(userOf(i))!,
  mode,
});

// ---- the storm's tallies ----------------------------------------------------------------------
let storm = false;
const refusals = new Map<string, number>();
const ended = new Map<string, number>();
let attempts = 0;
let pending = 0;
let reconnected = 0;
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Keep `ws` as connection `c`'s socket; a close by the server reconnects once the storm is on. */
function attach(c: Conn, ws: WebSocket): void {
  c.ws = ws;
  c.reconnector.opened();
  ws.on('message', () => {
    c.acks++;
  });
  ws.once('close', (code, reason) => {
    if (c.ws === ws) c.ws = undefined;
    if (!storm) return bump(ended, `closed-before-storm:${code}`);
    pending++;
    const events = { refused: (o: string) => bump(refusals, o), attempt: () => attempts++ };
    c.reconnector
      .closed(code, String(reason), () => connectOnce(target(c.i, 'ticket')), events)
      .then(({ ended: how, attempt }) => {
        pending--;
        if (attempt?.ok) {
          reconnected++;
          attach(c, attempt.ws);
        } else bump(ended, how);
      });
  });
}

/** Open connections `[a, b)` with `concurrency` handshakes in flight. */
async function open(a: number, b: number, mode: AuthMode) {
  const failures = new Map<string, number>();
  const latencies: number[] = [];
  let next = a;
  const worker = async (): Promise<void> => {
    while (next < b) {
      const i = next++;
      const c: Conn = { i, acks: 0, reconnector: createReconnector() };
      conns.set(i, c);
      const t0 = performance.now();
      const attempt = await connectOnce(target(i, mode));
      latencies.push(performance.now() - t0);
      if (attempt.ok) attach(c, attempt.ws);
      else bump(failures, attempt.outcome);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((x, y) => x - y);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { failures: Object.fromEntries(failures), p50: q(0.5), p99: q(0.99) };
}

/** Every open connection sends its frames; resolves with the frames sent and acknowledged. */
async function frames() {
  let sent = 0;
  let acked = 0;
  const open = [...conns.values()].filter((c) => c.ws);
  for (let k = 0; k < open.length; k += 500) {
    const batch = open.slice(k, k + 500);
    for (const c of batch) {
      c.acks = 0;
      for (let f = 0; f < FRAMES_PER_CONNECTION; f++) c.ws?.send(CHAT_FRAME);
      sent += FRAMES_PER_CONNECTION;
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && batch.some((c) => c.acks < FRAMES_PER_CONNECTION && c.ws))
      await new Promise((r) => setTimeout(r, 2));
    for (const c of batch) acked += Math.min(c.acks, FRAMES_PER_CONNECTION);
  }
  return { sent, acked };
}

const openCount = (): number => [...conns.values()].filter((c) => c.ws).length;

answer(async (request) => {
  switch (request.op) {
    case 'prepare':
      await signAll();
      return { users: tokens.size };
    case 'open':
      return open(Number(request['from']), Number(request['to']), request['mode'] as AuthMode);
    case 'frames':
      return frames();
    case 'storm':
      storm = true;
      return { open: openCount() };
    case 'status':
      return {
        open: openCount(),
        pending,
        reconnected,
        attempts,
        refusals: Object.fromEntries(refusals),
        ended: Object.fromEntries(ended),
      };
    case 'close':
      storm = false;
      for (const c of conns.values()) c.ws?.close(1000);
      return { closed: true };
    default:
      throw new Error(`unknown op ${request.op}`);
  }
});
process.send?.({ ready: true, from, to });
