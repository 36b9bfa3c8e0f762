// Every option of serve(), on Node (the Bun and Deno adapters take the same ones).
import { readFileSync } from 'node:fs';
import { createGuard } from 'wsguard';
import { serve } from 'wsguard/adapters/node'; // or /bun, /deno: same options, same result

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

const server = await serve({
  guard,
  hooks: {
    // Only frames the guard let through arrive here, parsed.
    message(peer, _message, { connection, value }) {
      peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
    },
  },
  fetch: () => new Response('not found', { status: 404 }), // plain HTTP (tickets are served before it)
  port: Number(process.env.PORT ?? 8787),
  hostname: process.env.HOST ?? '127.0.0.1', // listening on every interface (0.0.0.0) is a decision
  trustProxy: ['10.0.0.0/8'], // X-Forwarded-For is read only from these peers
  // PEM strings: https:// and wss://
  ...(process.env.TLS_CERT && process.env.TLS_KEY
    ? {
        tls: {
          cert: readFileSync(process.env.TLS_CERT, 'utf8'),
          key: readFileSync(process.env.TLS_KEY, 'utf8'),
        },
      }
    : {}),
});
console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
process.on('SIGTERM', () => void server.close()); // graceful: 1001 to every peer, leases released
