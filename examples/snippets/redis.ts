// Several instances: the guard's state in Redis (npm install ioredis).
import { Redis } from 'ioredis';
import { createGuard } from 'wsguard';
import { createRedisStore, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);
redis.on('error', (error) => console.error('redis:', error.message)); // the store fails closed (503)

export const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  store: createRedisStore({ client: redis, ownsClient: true }),
  requireSharedStore: true, // refuses to start on a store that instances do not share
});
