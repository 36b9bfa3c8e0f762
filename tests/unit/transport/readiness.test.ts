/**
 * Liveness and readiness for orchestrators: `healthHandler()` says the process answers (always
 * 200); `readinessHandler(guard)` says whether this instance should get traffic: its store answers
 * (timed, the latency in the answer and in `/metrics`) and it is not shutting down. A store that
 * does not answer, or a guard shutting down, is a 503 in bounded time, never a hang.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createGuard, healthHandler, readinessHandler } from '../../../src/mod.ts';
import { createRedisStore, REDIS_CLIENT_OPTIONS } from '../../../src/redis.ts';

const base = {
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'] as const, secret: 'k'.repeat(40) },
  audit: false as const,
};
const get = (path: string) => new Request(`http://app${path}`);

describe('readiness', () => {
  it('a guard on a store that answers is ready, with the latency in the answer and metrics', async () => {
    const guard = createGuard(base as never);
    const res = await readinessHandler(guard)(get('/readyz'));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      ready: boolean;
      store: { up: boolean; latencyMs: number };
    };
    expect(body.ready).toBe(true);
    expect(body.store.up).toBe(true);
    expect(body.store.latencyMs).toBeGreaterThanOrEqual(0);
    expect(guard.metrics()).toMatch(/^wsguard_store_up 1$/m);
    expect(guard.metrics()).toMatch(/^wsguard_store_latency_seconds \d/m);
    // Liveness does not depend on the store.
    expect(healthHandler()(get('/healthz')).status).toBe(200);
  });

  it('a guard shutting down is not ready (503), while liveness still answers', async () => {
    const guard = createGuard(base as never);
    await guard.shutdown();
    const res = await readinessHandler(guard)(get('/readyz'));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toBe('shutting down');
    expect(healthHandler()(get('/healthz')).status).toBe(200);
  });

  it('a store that does not answer is a 503 within its command timeout, and store_up 0', async () => {
    // A port nothing listens on: the client never becomes ready.
    const client = new Redis('redis://127.0.0.1:1', {
      ...REDIS_CLIENT_OPTIONS,
      lazyConnect: false,
    });
    client.on('error', () => {});
    const guard = createGuard({
      ...base,
      store: createRedisStore({ client, commandTimeoutMs: 200 }),
    } as never);
    try {
      const started = Date.now();
      const res = await readinessHandler(guard)(get('/readyz'));
      expect(Date.now() - started).toBeLessThan(1500);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ready: boolean; reason: string; store: { up: boolean } };
      expect(body).toMatchObject({
        ready: false,
        reason: 'store unavailable',
        store: { up: false },
      });
      expect(guard.metrics()).toMatch(/^wsguard_store_up 0$/m);
    } finally {
      client.disconnect();
    }
  });
});
