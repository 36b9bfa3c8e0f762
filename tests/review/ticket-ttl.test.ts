/**
 * Review of ticket expiry by the store's clock (`takeWithTtl`) on real Redis: when the store
 * cannot tell the time left (PTTL -1, a key without expiry), the ticket's own `exp` must still
 * be judged, by this instance's clock. Today `ttlMs: Infinity` reads as "not expired" and the
 * instance's clock is never asked, so such a ticket is good for ever.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256HexWeb } from '../../src/core/encoding.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import { connectRedis, deletePrefix, redisSkipReason, uniquePrefix } from '../store/redis-env.ts';
import { sign, testGuard } from '../unit/fixtures/guards.ts';

const skip = await redisSkipReason();
if (skip !== undefined) console.warn(`Redis suite did not run: review ticket ttl: ${skip}`);

describe.skipIf(skip !== undefined)(
  'ticket expiry without a store TTL (review, real Redis)',
  () => {
    let redis: Redis;
    const prefix = uniquePrefix('review-ticket');
    beforeAll(async () => {
      redis = await connectRedis();
    });
    afterAll(async () => {
      await deletePrefix(redis, prefix);
      redis?.disconnect();
    });

    const issue = async (issuer: ReturnType<typeof testGuard>) => {
      const principal = await issuer.guard.verifyToken(await sign('alice'));
      const { ticket } = await issuer.guard.issueTicket(principal, { origin: null });
      return { ticket, key: `${prefix}ticket:${await sha256HexWeb(ticket)}` };
    };

    it('found in review: a ticket whose key lost its TTL is accepted long after its exp', async () => {
      const store = createRedisStore({ client: redis, prefix });
      const issuer = testGuard(store, { tickets: true });
      const { ticket, key } = await issue(issuer);
      expect(await redis.persist(key)).toBe(1); // PTTL is now -1
      // The same store, seen by an instance two minutes later (the ticket lived 10 s).
      const later = testGuard(store, { tickets: true, now: () => Date.now() + 120_000 });
      const d = await later.upgrade({ origin: null, url: `/ws?ticket=${ticket}` });
      expect(d.ok ? 'accepted' : d.reason).toBe('expired');
    });

    it('holds: with its TTL, the same late ticket is refused as expired (4002)', async () => {
      const store = createRedisStore({ client: redis, prefix });
      const issuer = testGuard(store, { tickets: true });
      const { ticket, key } = await issue(issuer);
      // 10 s of life + 60 s of grace: leave it 30 s, under the grace, so the store says "expired".
      expect(await redis.pexpire(key, 30_000)).toBe(1);
      const d = await issuer.upgrade({ origin: null, url: `/ws?ticket=${ticket}` });
      expect(d).toMatchObject({ ok: false, reason: 'expired', closeCode: 4002 });
    });
  },
);
