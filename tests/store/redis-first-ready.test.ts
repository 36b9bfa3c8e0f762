/**
 * A store used right after `new Redis(...)` works: with `REDIS_CLIENT_OPTIONS` (no offline queue)
 * ioredis refuses commands until its first connection is ready ("Stream isn't writeable"), so
 * the README's two-line setup failed its first handshakes. The store waits for that first
 * connection within its command timeout; once the client was ready, an outage still fails at
 * once (fail closed fast), it does not wait.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createRedisStore, REDIS_CLIENT_OPTIONS } from '../../src/redis.ts';
import { announceSkip, REDIS_URL, redisSkipReason, uniquePrefix } from './redis-env.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/redis-first-ready.test.ts', skip);

describe.skipIf(skip !== undefined)('a Redis store on a client that is still connecting', () => {
  it('serves its first calls once the connection is ready, within the command timeout', async () => {
    const client = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS);
    client.on('error', () => {});
    const store = createRedisStore({ client, ownsClient: true, prefix: uniquePrefix('ready') });
    try {
      await store.set('k', 'v', 10_000);
      expect(await store.get('k')).toBe('v');
    } finally {
      await store.delete('k');
      await store.close?.();
    }
  });

  it('does not wait once the client was ready: a later outage fails at once', async () => {
    const client = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS);
    client.on('error', () => {});
    const store = createRedisStore({
      client,
      commandTimeoutMs: 2000,
      prefix: uniquePrefix('ready'),
    });
    await store.get('k');
    client.disconnect(true); // reconnecting from now on
    const started = Date.now();
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(500);
    client.disconnect();
  });
});
