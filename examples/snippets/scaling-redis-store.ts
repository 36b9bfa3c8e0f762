// The guard's state in Redis, shared by every instance.
import { Redis } from 'ioredis';
import { createGuard } from 'wsguard';
import { createRedisStore, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);
// ioredis reports connection trouble as events: listen, or it logs every reconnect attempt.
redis.on('error', (error) => console.warn('redis:', error.message));

export const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  // Calls made before the client's first connection wait for it (within commandTimeoutMs).
  store: createRedisStore({ client: redis, prefix: 'chat:wsguard:' }),
  requireSharedStore: true, // refuses to start on the per-process memory store
});
