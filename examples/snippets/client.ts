// The client in Node (npx tsx client.ts); in a browser drop the `WebSocket` option and the ws import.
import { createTRPCClient, wsLink } from '@trpc/client';
import WebSocket from 'ws'; // Node 20 has no global WebSocket (browsers, Bun, Deno and Node 22+ do)
import { createGuardedWSClient, fetchTicket } from 'wsguard/client';
import type { AppRouter } from './trpc-server.ts';

const base = process.env.APP_URL ?? 'http://127.0.0.1:8787';
const token = process.env.TOKEN; // the JWT your login issued (roles: ['user'])
if (!token) throw new Error('set TOKEN to a JWT signed with JWT_SECRET');

const ws = createGuardedWSClient({
  url: `${base.replace(/^http/, 'ws')}/ws`,
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  // Absolute outside a browser: there is no page to resolve '/ws/ticket' against.
  getTicket: () =>
    fetchTicket(`${base}/ws/ticket`, { headers: { authorization: `Bearer ${token}` } }),
  onCredentialError: (error) => console.error('no ticket:', error),
  // 4001/4003/4030, or the retry budget spent: it stops, and calls fail at once until restart().
  onStop: (stop) => console.error(`stopped (${stop.kind}, ${stop.code}): ${stop.reason}`),
});
const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws.client })] });

const got = new Promise<void>((resolve) => {
  const sub = trpc.onMessage.subscribe(
    { room: 'lobby' },
    {
      onStarted: () => void trpc.send.mutate({ room: 'lobby', text: 'hello' }),
      onData: ({ data }) => {
        console.log(`${data.user}: ${data.text}`);
        sub.unsubscribe();
        resolve();
      },
      onError: (error) => console.error('subscription:', error.message),
    },
  );
});
await got;
await ws.close();
