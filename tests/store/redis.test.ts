/**
 * The Redis store passes the store contract on a real Redis, over several connections racing as
 * instances would; plus what only Redis has: key TTLs that heal, the Lua limiter computing exactly
 * the GCRA arithmetic of `gcraStep`, key prefixes, and the unstorage driver's client.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { createStorage } from 'unstorage';
import redisDriver from 'unstorage/drivers/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcraStep } from '../../src/core/rate-limit.ts';
import type { Store } from '../../src/store/contract.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import { redisStoreFromUnstorage } from '../../src/store/redis-unstorage.ts';
import { storeContract } from './contract.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
  whenReady,
} from './redis-env.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/redis.test.ts', skip);

// The contract, with three more connections as racing "instances" on the same prefix.
const contractPrefix = uniquePrefix('contract');
const clients: Redis[] = [];
const open = async (): Promise<Store> => {
  const client = await connectRedis();
  clients.push(client);
  return createRedisStore({ client, prefix: contractPrefix });
};
storeContract('redis', open, {
  skip,
  peers: () => Promise.all([open(), open(), open()]),
  cleanup: async () => {
    const [first, ...rest] = clients.splice(0);
    if (first) {
      await deletePrefix(first, contractPrefix);
      await first.quit();
    }
    await Promise.all(rest.map((c) => c.quit()));
  },
});

describe.skipIf(skip !== undefined)(
  `redis store specifics${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('specifics');
    let redis: Redis;
    let store: Store;

    beforeAll(async () => {
      redis = await connectRedis();
      store = createRedisStore({ client: redis, prefix });
    });
    afterAll(async () => {
      if (!redis) return;
      await deletePrefix(redis, prefix);
      await redis.quit();
    });

    it('is named redis and shared', () => {
      expect(store.name).toBe('redis');
      expect(store.shared).toBe(true);
    });

    it('refuses a client without call(), and a bad timeout', () => {
      expect(() => createRedisStore({ client: {} as never })).toThrow(TypeError);
      expect(() => createRedisStore({ client: redis, commandTimeoutMs: 0 })).toThrow(TypeError);
      expect(() => createRedisStore({ client: redis, commandTimeoutMs: Number.NaN })).toThrow(
        TypeError,
      );
    });

    it('puts every key under the prefix, each with a TTL', async () => {
      await store.set('kv', 'v', 60_000);
      await store.limit('rate', { limit: 5, windowMs: 60_000 });
      await store.acquireLease('lease', 'a', 5, 60_000);
      await store.addScore('score', 3, 60_000);
      const keys = (await redis.keys(`${prefix}*`)).sort();
      expect(keys).toEqual(
        [
          `${prefix}kv`,
          `${prefix}rate`,
          `${prefix}score`,
          `${prefix}{lease}:exp`,
          `${prefix}{lease}:seq`,
        ].sort(),
      );
      for (const k of keys) expect(await redis.pttl(k), k).toBeGreaterThan(0);
      // The limiter keeps its key only until the TAT: one event at 12 s per event.
      expect(await redis.pttl(`${prefix}rate`)).toBeLessThanOrEqual(12_000);
      // Scores live ten half-lives.
      expect(await redis.pttl(`${prefix}score`)).toBeLessThanOrEqual(600_000);
    });

    it('heals a key that lost its TTL on its next use', async () => {
      await store.limit('heal-rate', { limit: 1, windowMs: 60_000 });
      await store.acquireLease('heal-lease', 'a', 1, 60_000);
      await store.addScore('heal-score', 1, 60_000);
      const keys = [
        `${prefix}heal-rate`,
        `${prefix}{heal-lease}:exp`,
        `${prefix}{heal-lease}:seq`,
        `${prefix}heal-score`,
      ];
      for (const k of keys) {
        await redis.persist(k);
        expect(await redis.pttl(k), k).toBe(-1);
      }
      // Refused calls heal too: the limiter is full and the lease set is at its cap.
      expect((await store.limit('heal-rate', { limit: 1, windowMs: 60_000 })).allowed).toBe(false);
      expect((await store.acquireLease('heal-lease', 'b', 1, 60_000)).ok).toBe(false);
      await store.addScore('heal-score', 1, 60_000);
      for (const k of keys) expect(await redis.pttl(k), k).toBeGreaterThan(0);
    });

    it('quits the client on close() only when it owns it', async () => {
      const borrowed = await connectRedis();
      await createRedisStore({ client: borrowed, prefix }).close?.();
      expect(await borrowed.ping()).toBe('PONG');
      const ended = new Promise((resolve) => borrowed.once('end', resolve));
      await createRedisStore({ client: borrowed, prefix, ownsClient: true }).close?.();
      await ended;
      expect(borrowed.status).toBe('end');
    });

    it('keeps stores with different prefixes apart', async () => {
      const other = createRedisStore({ client: redis, prefix: `${prefix}other:` });
      await store.set('same', 'mine', 60_000);
      expect(await other.get('same')).toBeUndefined();
      expect(await other.take('same')).toBeUndefined();
      expect(await store.get('same')).toBe('mine');
    });

    it('runs the exact GCRA arithmetic of gcraStep (property, pinned clock)', async () => {
      // Intervals of 1 s or more keep every key's TTL above a second, longer than a run takes, so
      // Redis's real-time expiry never drops a TAT the pinned clock still needs.
      const rule = fc
        .record({
          limit: fc.integer({ min: 1, max: 100 }),
          extra: fc.integer({ min: 0, max: 1_000_000 }),
          burst: fc.integer({ min: 2, max: 50 }),
        })
        .map(({ limit, extra, burst }) => ({ limit, windowMs: limit * 1000 + extra, burst }));
      const steps = fc.array(
        fc.record({
          dt: fc.integer({ min: 0, max: 20_000 }),
          cost: fc.integer({ min: 1, max: 49 }),
        }),
        { minLength: 1, maxLength: 25 },
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(rule, steps, async (r, seq) => {
          let now = Date.now();
          const pinned = createRedisStore({ client: redis, prefix, now: () => now });
          const k = `gcra:${++run}`;
          let tat = 0;
          for (const { dt, cost } of seq) {
            now += dt;
            const c = Math.min(cost, r.burst - 1);
            const expected = gcraStep(tat, now, r, c);
            tat = expected.tat;
            expect(await pinned.limit(k, r, c)).toEqual(expected.result);
          }
          // The stored TAT is the exact double, not Lua's 14-digit rounding.
          const stored = await redis.get(`${prefix}${k}`);
          if (stored !== null) expect(Number(stored)).toBe(tat);
        }),
        { numRuns: 60 },
      );
    });

    it('agrees with the memory store step by step on a pinned clock', async () => {
      let now = Date.now();
      const clock = () => now;
      const mem = createMemoryStore({ now: clock });
      const red = createRedisStore({ client: redis, prefix, now: clock });
      const rule = { limit: 3, windowMs: 10_000, burst: 4 };
      for (let i = 0; i < 40; i++) {
        now += (i * 7919) % 4000;
        expect(await red.limit('agree', rule, 1 + (i % 2))).toEqual(
          await mem.limit('agree', rule, 1 + (i % 2)),
        );
      }
    });

    it('loads each script once, and sends it in full when Redis answers NOSCRIPT', async () => {
      // A restarted Redis has an empty script cache. Flushing the shared server here would disturb
      // other suites, so a recording client answers the first EVALSHA as such a server would (the
      // real restart is in redis-faults.test.ts).
      const calls: string[] = [];
      let lostCache = true;
      const recording = {
        call: (command: string, ...args: (string | number)[]): Promise<unknown> => {
          calls.push(command === 'SCRIPT' ? `SCRIPT ${args[0]}` : command);
          if (command === 'EVALSHA' && lostCache) {
            lostCache = false;
            return Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.'));
          }
          return redis.call(command, ...args);
        },
      };
      const s = createRedisStore({ client: recording, prefix });
      expect((await s.limit('noscript', { limit: 5, windowMs: 60_000 })).allowed).toBe(true);
      // Loaded once; on NOSCRIPT, EVAL runs the script and caches it again under the same SHA.
      expect(calls).toEqual(['SCRIPT LOAD', 'EVALSHA', 'EVAL']);
      await s.limit('noscript', { limit: 5, windowMs: 60_000 });
      expect(calls.slice(3)).toEqual(['EVALSHA']);
    });

    it('maps a Redis error reply to StoreUnavailableError, keeping the cause', async () => {
      await redis.hset(`${prefix}hash`, 'f', 'v');
      await redis.pexpire(`${prefix}hash`, 60_000);
      const error = await store.get('hash').catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'StoreUnavailableError', code: 'ERR_WSGUARD_STORE' });
      expect(String((error as Error).cause)).toMatch(/WRONGTYPE/);
    });

    describe('unstorage', () => {
      it('uses the Redis driver client for atomic take, under the driver base', async () => {
        const base = `${prefix}uns`;
        const storage = createStorage({
          driver: redisDriver({ url: REDIS_URL, base, enableOfflineQueue: false }),
        });
        const driver = storage.getMount('').driver;
        const client = driver.getInstance?.() as Redis;
        client.on('error', () => {});
        try {
          await whenReady(client);
          const fromStorage = redisStoreFromUnstorage(storage);
          const fromDriver = redisStoreFromUnstorage(driver);
          await fromStorage.set('t', 'ticket', 60_000);
          expect(await redis.get(`${base}:wsguard:t`)).toBe('ticket');
          const results = await Promise.all(
            Array.from({ length: 100 }, (_, i) => (i % 2 ? fromStorage : fromDriver).take('t')),
          );
          expect(results.filter((r) => r !== undefined)).toEqual(['ticket']);
          expect(fromStorage.shared).toBe(true);
        } finally {
          await storage.dispose();
        }
      });

      it('refuses a driver that is not Redis, naming it', () => {
        const storage = createStorage();
        expect(() => redisStoreFromUnstorage(storage)).toThrow(/"memory".*not unstorage's Redis/);
      });
    });
  },
);
