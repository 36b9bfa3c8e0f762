/**
 * After the handshake the Node adapter's peers stop holding Node's `IncomingMessage` (~0.9 KiB of
 * every idle connection: its stream state, `rawHeaders` and their strings), issue 17 round 3.
 * What the app's hooks read of the peer later must not change: `peer.request` (URL, every header),
 * `peer.remoteAddress`, `peer.context`, `peer.websocket.url`, the guard's connection. Real sockets
 * on loopback, a frame sent well after the open.
 */
import { IncomingMessage } from 'node:http';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serve } from '../../../adapters/node.ts';
import { connectionOf, createGuard, type Guard } from '../../../src/mod.ts';
import type { GuardedServer } from '../../../src/transport/serve.ts';

const SECRET = 'node-peer-request-secret-0123456789-01234';

let guard: Guard;
let server: GuardedServer;

beforeAll(async () => {
  guard = createGuard({
    origins: ['https://app.example.com'],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    limits: { connectRate: false },
    penalties: false,
    audit: false,
  });
  server = await serve({
    guard,
    hooks: {
      open(peer) {
        // The app's own per-peer state, written at open, read back later.
        peer.context['app'] = 'mine';
      },
      message(peer) {
        const internal = (peer as unknown as { _internal: { nodeReq: unknown } })._internal;
        peer.send(
          JSON.stringify({
            url: peer.request.url,
            probe: peer.request.headers.get('x-probe'),
            origin: peer.request.headers.get('origin'),
            wsUrl: peer.websocket.url,
            remoteAddress: peer.remoteAddress,
            app: peer.context['app'],
            sub: connectionOf(peer)?.principal?.sub,
            holdsIncomingMessage: internal.nodeReq instanceof IncomingMessage,
          }),
        );
      },
    },
  });
});

afterAll(async () => {
  await server.close();
});

describe('Node adapter: what a peer keeps of its handshake request', () => {
  it('reads the same request later, without holding Node’s IncomingMessage', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(SECRET));
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/room?x=1`, {
      headers: {
        authorization: `Bearer ${token}`,
        origin: 'https://app.example.com',
        'x-probe': 'probe-value',
      },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50)); // well after the open hook
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 5000);
      ws.once('message', (data) => {
        clearTimeout(timer);
        resolve(JSON.parse(String(data)) as Record<string, unknown>);
      });
    });
    ws.send('{"hello":1}');
    const seen = await reply;
    ws.close();
    const { port } = new URL(server.url);
    expect(seen).toEqual({
      url: `http://127.0.0.1:${port}/room?x=1`,
      probe: 'probe-value',
      origin: 'https://app.example.com',
      wsUrl: `ws://127.0.0.1:${port}/room?x=1`,
      remoteAddress: '127.0.0.1',
      app: 'mine',
      sub: 'alice',
      holdsIncomingMessage: false,
    });
  });
});
