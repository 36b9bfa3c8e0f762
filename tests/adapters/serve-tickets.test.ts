/**
 * `serve()` with a guard that issues tickets answers `POST /ws/ticket` itself (the README's
 * ten-line server sets `tickets: true` and gives no `fetch`: the route was a 404), and the ticket
 * it hands out opens a socket once. `ticketPath: false` leaves the route to the app's `fetch`; a
 * guard without tickets serves no such route.
 */
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type GuardedServer, serve } from '../../adapters/node.ts';
import { createGuard, type GuardOptions } from '../../src/mod.ts';

const secret = 'serve-tickets-test-secret-0123456789abcdef';
const origin = 'https://app.example.test';
const servers: GuardedServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

async function start(extra: Partial<GuardOptions>, ticketPath?: string | false) {
  const guard = createGuard({
    origins: [origin],
    jwt: { algorithms: ['HS256'], secret },
    audit: false,
    ...extra,
  });
  const server = await serve({
    guard,
    hooks: { message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) },
    ...(ticketPath !== undefined ? { ticketPath } : {}),
  });
  servers.push(server);
  return server;
}

const post = async (url: string, bearer?: string) =>
  fetch(`${url}/ws/ticket`, {
    method: 'POST',
    headers: { origin, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
  });

/** Open a socket with `?ticket=`; resolves with the echo of one frame, or the close code. */
function openWith(url: string, ticket: string): Promise<unknown> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?ticket=${ticket}`, { origin });
    ws.on('open', () => ws.send(JSON.stringify({ hi: 1 })));
    ws.on('message', (data) => {
      resolve(JSON.parse(String(data)));
      ws.close();
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', () => {});
  });
}

describe('serve() serves tickets when the guard issues them', () => {
  it('answers POST /ws/ticket, and the ticket opens a socket once', async () => {
    const server = await start({ tickets: true });
    expect((await post(server.url)).status).toBe(401);
    const res = await post(server.url, await token('alice'));
    expect(res.status).toBe(200);
    const { ticket } = (await res.json()) as { ticket: string };
    expect(await openWith(server.url, ticket)).toEqual({ echo: { hi: 1 } });
    expect(await openWith(server.url, ticket)).toBe(4001);
  });

  it('leaves the path to fetch with ticketPath: false, and has no route without tickets', async () => {
    const off = await start({ tickets: true }, false);
    expect((await post(off.url, await token('alice'))).status).toBe(404);
    const none = await start({});
    expect((await post(none.url, await token('alice'))).status).toBe(404);
  });
});
