/**
 * The h3 app decides which handshakes reach the guard (`adapters/h3-upgrade.ts`): only a handshake
 * routed to `ws.handler` is upgraded, by the guard; a path with no route, a middleware's refusal
 * and another WebSocket route are answered by the app and never upgraded. Real h3 (srvx) server on
 * loopback, `ws` clients.
 */
import { defineWebSocketHandler, H3, serve } from 'h3';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { guardH3 } from '../../adapters/h3.ts';
import { createGuard } from '../../src/mod.ts';

const secret = 'h3-routing-test-secret-0123456789abcdef';
const origin = 'https://app.example.test';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const token = () =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

async function start(): Promise<string> {
  const guard = createGuard({ origins: [origin], jwt: { algorithms: ['HS256'], secret } });
  const ws = guardH3({
    guard,
    hooks: { message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) },
  });
  const app = new H3()
    .use((event) => {
      if (event.req.headers.get('x-block') === '1') return new Response('no', { status: 401 });
    })
    .get('/ws', ws.handler)
    .get(
      '/raw',
      defineWebSocketHandler({
        open(peer) {
          peer.send('unguarded');
        },
      }),
    );
  const server = serve(app, {
    port: 0,
    hostname: '127.0.0.1',
    silent: true,
    gracefulShutdown: false,
    plugins: [ws.plugin],
  });
  await server.ready();
  closers.push(async () => {
    await ws.close(1000);
    await server.close(true);
  });
  return `ws://127.0.0.1:${new URL(server.url ?? '').port}`;
}

/** Open, or the HTTP status that refused it; bounded at 5 s. */
function outcome(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ opened?: true; status?: number; first?: string }>((resolve) => {
    const c = new WebSocket(url, { origin, headers });
    const timer = setTimeout(() => {
      c.terminate();
      resolve({});
    }, 5000);
    c.on('error', () => {});
    c.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode });
      c.terminate();
    });
    c.once('open', () => {
      c.send(JSON.stringify({ hi: 1 }));
      c.once('message', (data) => {
        clearTimeout(timer);
        resolve({ opened: true, first: data.toString() });
        c.close();
      });
    });
  });
}

describe('h3: the app routes handshakes to the guard', () => {
  it('upgrades a handshake routed to ws.handler, through the guard', async () => {
    const base = await start();
    const r = await outcome(`${base}/ws`, { authorization: `Bearer ${await token()}` });
    expect(r).toEqual({ opened: true, first: JSON.stringify({ echo: { hi: 1 } }) });
  });

  it('refuses a handshake the guard refuses (foreign origin: 403)', async () => {
    const base = await start();
    const status = await new Promise<number | undefined>((resolve) => {
      const c = new WebSocket(`${base}/ws`, { origin: 'https://evil.example' });
      c.on('error', () => {});
      c.once('unexpected-response', (_q, res) => resolve(res.statusCode));
      c.once('open', () => resolve(101));
      setTimeout(() => resolve(undefined), 5000);
    });
    expect(status).toBe(403);
  });

  it('answers 404 for a path with no route, never 101', async () => {
    const base = await start();
    expect(await outcome(`${base}/nowhere`, { authorization: `Bearer ${await token()}` })).toEqual({
      status: 404,
    });
  });

  it("answers a middleware's refusal (401) before the guard", async () => {
    const base = await start();
    const r = await outcome(`${base}/ws`, {
      authorization: `Bearer ${await token()}`,
      'x-block': '1',
    });
    expect(r).toEqual({ status: 401 });
  });

  it('never upgrades another WebSocket route of the app (426)', async () => {
    const base = await start();
    expect(await outcome(`${base}/raw`)).toEqual({ status: 426 });
  });

  it('answers a plain GET on the guarded route with 426', async () => {
    const base = await start();
    const res = await fetch(`${base.replace(/^ws/, 'http')}/ws`);
    expect(res.status).toBe(426);
  });
});
