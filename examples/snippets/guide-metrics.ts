// /metrics for Prometheus, kept private: a bearer token, or a second listener nobody else reaches.
import { createGuard, metricsHandler, readinessHandler } from 'wsguard';
import { serve } from 'wsguard/adapters/node';

const secret = process.env.JWT_SECRET;
const metricsToken = process.env.METRICS_TOKEN;
if (!secret || !metricsToken)
  throw new Error('set JWT_SECRET and METRICS_TOKEN (32+ random bytes)');
const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
});

// Option 1: on the public server, behind a token (compared in constant time).
const metrics = metricsHandler(guard, { token: metricsToken });
const ready = readinessHandler(guard);
await serve({
  guard,
  port: Number(process.env.PORT ?? 8787),
  hostname: '0.0.0.0',
  fetch: (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === '/metrics') return metrics(request);
    if (pathname === '/readyz') return ready(request); // for the load balancer
    return new Response('not found', { status: 404 });
  },
});

// Option 2: a second listener on a private interface, no token (say so with `public: true`).
await serve({
  guard,
  port: Number(process.env.METRICS_PORT ?? 9464),
  hostname: process.env.PRIVATE_HOST ?? '127.0.0.1',
  fetch: metricsHandler(guard, { public: true }),
});
