// Hono on Deno with wsguard: wsguard's own `serve` runs the app (its front gives Deno the header
// deadline and the frame limit before buffering), the guard's routes are Hono handlers.
// Run with `deno run -A server.deno.ts` (`wsguard` mapped in deno.json: docs/deno.md).
import { Hono } from 'hono';
import { createGuard, healthHandler } from 'wsguard';
import { serve } from 'wsguard/adapters/deno';
import { honoRoutes } from 'wsguard/hono';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});
const trustProxy = ['10.0.0.0/8'];

// `c.env` is the client `serve` resolved; these routes read it.
const routes = honoRoutes({ guard, trustProxy });
const app = new Hono();
app.get('/healthz', routes.route(healthHandler()));

const server = await serve({
  guard,
  hooks: { message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) },
  trustProxy,
  fetch: app.fetch, // every request that is not a handshake; POST /ws/ticket is serve's own
  port: Number(process.env.PORT ?? 8787),
});
console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
process.on('SIGTERM', () => void server.close()); // 1001 to every peer, leases released
