// The guard's state through unstorage's Redis driver (atomic there; npm install unstorage ioredis).
import { createStorage } from 'unstorage';
import redisDriver from 'unstorage/drivers/redis';
import { createGuard } from 'wsguard';
import { createUnstorageStore, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const storage = createStorage({
  // The driver passes its options on to ioredis.
  driver: redisDriver({ url: process.env.REDIS_URL, base: 'app', ...REDIS_CLIENT_OPTIONS }),
});
const store = createUnstorageStore({ storage }); // the atomic path; keys under `app:wsguard:`

export const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  store,
  requireSharedStore: true,
});
