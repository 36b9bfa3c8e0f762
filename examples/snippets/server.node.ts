// Node: npx tsx server.node.ts (Node 22.18+ runs it as is). JWT_SECRET: openssl rand -hex 32
import { createGuard } from 'wsguard';
import { serve } from 'wsguard/adapters/node';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true, // serve() answers POST /ws/ticket
});
const server = await serve({
  guard,
  port: Number(process.env.PORT ?? 8787),
  hooks: { message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) },
});
console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
