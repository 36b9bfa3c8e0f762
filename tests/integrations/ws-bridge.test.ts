/**
 * What a `ws` app sees through `guardWebSocketServer` that the shared suite does not look at:
 * its `message` listeners get the frame as `ws` gives it (a `Buffer`, `isBinary`) plus the
 * guard's verdict, and never a frame the guard refused; `wss.clients` holds the guarded sockets;
 * `connectionOf(req)` is the guard's view of the client; the app's own `ws.close(code)` reaches
 * the client; a server that would bypass the guard is refused. Real server and clients on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { type RawData, WebSocketServer } from 'ws';
import { connectionOf, guardWebSocketServer } from '../../adapters/ws.ts';
import type { GuardedMessage } from '../../src/guard/types.ts';
import { createGuard, GuardConfigError } from '../../src/mod.ts';
import { bounded } from '../helpers/bounded.ts';

const secret = 'ws-bridge-test-secret-0123456789abcdef';
const origin = 'https://app.example.test';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

interface Seen {
  readonly data: RawData;
  readonly isBinary: boolean;
  readonly guarded: GuardedMessage | undefined;
}

/** A `ws` app on a guarded server; records what its listeners saw. */
async function start() {
  const guard = createGuard({
    origins: [origin],
    jwt: { algorithms: ['HS256'], secret },
    audit: false,
  });
  const wss = new WebSocketServer({ noServer: true });
  const seen: Seen[] = [];
  const ips: string[] = [];
  wss.on('connection', (ws, req) => {
    ips.push(connectionOf(req).ip);
    ws.on('message', (data: RawData, isBinary: boolean, guarded?: GuardedMessage) => {
      seen.push({ data, isBinary, guarded });
      if ((guarded?.value as { close?: number } | null)?.close) ws.close(4000, 'app says bye');
      else ws.send(JSON.stringify({ ok: true }));
    });
  });
  const upgrade = guardWebSocketServer(wss, { guard });
  const server: Server = createServer((_req, res) => res.end());
  server.on('upgrade', upgrade);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  cleanups.push(async () => {
    await upgrade.close(1000);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { wss, seen, ips, url };
}

/** Open a client with a valid token; resolves once open. */
async function open(url: string): Promise<{ ws: WebSocket; replies: string[] }> {
  const ws = new WebSocket(url, {
    headers: { origin, authorization: `Bearer ${await token('u1')}` },
  });
  const replies: string[] = [];
  ws.on('message', (d) => replies.push(String(d)));
  await bounded(new Promise((r, j) => ws.once('open', r).once('error', j)), 'client open');
  cleanups.push(async () => ws.terminate());
  return { ws, replies };
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out: ${what}`);
};

describe('guardWebSocketServer: what the ws app sees', () => {
  it('hands the frame as ws does (Buffer, isBinary) with the guard verdict', async () => {
    const app = await start();
    const { ws, replies } = await open(app.url);
    ws.send(JSON.stringify({ hello: 'world' }));
    await until(() => replies.length === 1, 'a reply');
    expect(app.seen).toHaveLength(1);
    const [first] = app.seen;
    expect(Buffer.isBuffer(first?.data)).toBe(true);
    expect(String(first?.data)).toBe('{"hello":"world"}');
    expect(first?.isBinary).toBe(false);
    expect(first?.guarded?.value).toEqual({ hello: 'world' });
    expect(first?.guarded?.connection.principal?.sub).toBe('u1');
    expect(app.ips).toEqual(['127.0.0.1']);
    expect(app.wss.clients.size).toBe(1);
  });

  it('hands a text frame as the very Buffer ws received (not a copy re-encoded from text)', async () => {
    const app = await start();
    const raw: unknown[] = [];
    const seen: unknown[] = [];
    app.wss.on('connection', (ws) => {
      // What `ws`'s receiver emits, before the guard sees it.
      const emit = ws.emit;
      ws.emit = function (this: WebSocket, event: string | symbol, ...args: unknown[]) {
        if (event === 'message') raw.push(args[0]);
        return emit.call(this, event, ...args);
      } as typeof ws.emit;
      ws.on('message', (data) => seen.push(data));
    });
    const { ws, replies } = await open(app.url);
    ws.send(JSON.stringify({ n: 1 }));
    ws.send(JSON.stringify({ n: 2 }));
    await until(() => replies.length === 2 && seen.length === 2, 'both frames handled');
    expect(raw).toHaveLength(2);
    expect(seen[0]).toBe(raw[0]);
    expect(seen[1]).toBe(raw[1]);
  });

  it("shows the app only its own message listeners, and the guard's survive removeAllListeners", async () => {
    const app = await start();
    const counts: number[] = [];
    app.wss.on('connection', (ws) => {
      counts.push(ws.listenerCount('message'));
      ws.removeAllListeners('message');
      ws.on('message', () => {});
      counts.push(ws.listenerCount('message'));
    });
    const { ws, replies } = await open(app.url);
    // Every app listener is gone (the `start()` one too), yet frames still go through the guard.
    ws.send('not json {');
    await until(() => replies.length === 1, 'the refusal');
    expect(JSON.parse(replies[0] ?? '')).toHaveProperty('error');
    expect(counts).toEqual([1, 1]);
  });

  it('reaches once, onmessage and addEventListener listeners too', async () => {
    const app = await start();
    const got: string[] = [];
    app.wss.on('connection', (ws) => {
      ws.once('message', (data) => got.push(`once:${String(data)}`));
      ws.onmessage = (event) => got.push(`onmessage:${String(event.data)}`);
      ws.addEventListener('message', (event) => got.push(`listener:${String(event.data)}`));
    });
    const { ws, replies } = await open(app.url);
    ws.send('1');
    ws.send('2');
    await until(() => replies.length === 2 && got.length === 5, 'both frames handled');
    expect(got).toEqual(['once:1', 'onmessage:1', 'listener:1', 'onmessage:2', 'listener:2']);
  });

  it('never hands a frame the guard refused to the app listeners', async () => {
    const app = await start();
    const { ws, replies } = await open(app.url);
    ws.send('not json {');
    ws.send(JSON.stringify({ after: 1 }));
    await until(() => replies.length === 2, 'the refusal and the reply');
    expect(JSON.parse(replies[0] ?? '')).toHaveProperty('error');
    expect(app.seen.map((s) => s.guarded?.value)).toEqual([{ after: 1 }]);
  });

  it('delivers the app close code, and forgets the socket in wss.clients', async () => {
    const app = await start();
    const { ws } = await open(app.url);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ close: 1 }));
    expect(await bounded(closed, 'close')).toBe(4000);
    await until(() => app.wss.clients.size === 0, 'wss.clients emptied');
  });

  it('never emits connection for a refused handshake', async () => {
    const app = await start();
    const ws = new WebSocket(app.url, { headers: { origin: 'https://evil.example.test' } });
    ws.on('error', () => {}); // the refusal, as the client reports it
    const status = await bounded(
      new Promise<number>((r) =>
        ws.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)),
      ),
      'refusal',
    );
    ws.terminate();
    expect(status).toBe(403);
    expect(app.ips).toEqual([]);
  });

  it("checks the app's own ws.send as the guard's peer.send: a client that does not read is closed with 1013 at once", async () => {
    const app = await start();
    const buffered: number[] = [];
    const sendErrors: unknown[] = [];
    let sent = 0;
    app.wss.on('connection', (ws) => {
      ws.on('message', (_data, _isBinary, guarded?: GuardedMessage) => {
        if ((guarded?.value as { push?: boolean } | null)?.push !== true) return;
        // 32 MiB in one go, far past maxBufferedBytes (1 MiB), all before the buffer sweep's
        // next look (every second): only a check after each send can stop it in time.
        const chunk = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 512 && ws.readyState === ws.OPEN; i++) {
          ws.send(chunk, (error) => {
            if (error) sendErrors.push(error);
          });
          sent++;
          buffered.push(ws.bufferedAmount);
        }
      });
    });
    const { ws } = await open(app.url);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    // The client reads nothing until the server has given up on it.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    ws.send(JSON.stringify({ push: true }));
    // The push is one synchronous loop: once it has sent anything, it has ended.
    await until(() => sent > 0, 'the push ran');
    // Stopped as the server's own buffer passed the limit by one chunk at most (what the kernel
    // took before that is not the server's memory), not at 32 MiB.
    expect(Math.max(...buffered)).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024 + 1024);
    expect(sent).toBeLessThan(512);
    expect(sendErrors).toEqual([]);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await bounded(closed, 'the 1013 close')).toBe(1013);
  });

  it('refuses a server that takes upgrades itself or has verifyClient', () => {
    const guard = createGuard({
      origins: [origin],
      audit: false,
      jwt: { algorithms: ['HS256'], secret },
    });
    const server = createServer();
    const attached = new WebSocketServer({ server });
    expect(() => guardWebSocketServer(attached, { guard })).toThrow(GuardConfigError);
    const verifying = new WebSocketServer({ noServer: true, verifyClient: () => true });
    expect(() => guardWebSocketServer(verifying, { guard })).toThrow(/verifyClient/);
    attached.close();
  });
});
