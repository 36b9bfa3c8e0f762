/**
 * Ticket expiry is judged by the store's clock, not by the redeeming instance's: the review saw an
 * instance 45 s behind accept a 1-second ticket 5 s after issue. Memory and real Redis.
 */
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createGuard, createMemoryStore, type Guard, type Store } from '../../src/mod.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  redisSkipReason,
  uniquePrefix,
} from './redis-env.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/ticket-clock.test.ts (Redis)', skip);

const ORIGIN = 'https://app.example.com';
const guardOn = (store: Store, skewMs: number): Guard =>
  createGuard({
    origins: [ORIGIN],
    tickets: { ttlMs: 1000 },
    store,
    audit: false,
    onError: () => {},
    limits: { connectRate: false },
    now: () => Date.now() + skewMs,
  });
const redeem = (guard: Guard, ticket: string) =>
  guard.upgrade({
    request: new Request(`http://localhost/ws?ticket=${ticket}`, { headers: { origin: ORIGIN } }),
    ip: '203.0.113.9',
  });

async function skewCase(store: Store, wait: (ms: number) => Promise<void>) {
  const issuer = guardOn(store, 0);
  const behind = guardOn(store, -45_000);
  const principal = { sub: 'alice', roles: [], permissions: [] };
  const late = await issuer.issueTicket(principal, { origin: ORIGIN });
  const fresh = await issuer.issueTicket(principal, { origin: ORIGIN });
  expect((await redeem(behind, fresh.ticket)).ok).toBe(true);
  await wait(1300);
  // An instance whose clock is 45 s behind would still think the ticket had 43 s to go.
  expect(await redeem(behind, late.ticket)).toMatchObject({
    ok: false,
    reason: 'expired',
    closeCode: 4002,
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('ticket expiry by the store clock', () => {
  it('memory store: an instance with a slow clock refuses an expired ticket (4002)', async () => {
    let shift = 0;
    // The store's own clock is the truth; advancing it stands in for time passing.
    const store = createMemoryStore({ now: () => Date.now() + shift });
    await skewCase(store, async (ms) => {
      shift += ms;
    });
  });

  describe.skipIf(skip !== undefined)('redis', () => {
    const prefix = uniquePrefix('ticket-clock');
    let client: Redis | undefined;
    afterAll(async () => {
      if (client) {
        await deletePrefix(client, prefix);
        client.disconnect();
      }
    });
    it('redis store: an instance 45 s behind refuses a 1-second ticket redeemed after 1.3 s (4002)', async () => {
      client = await connectRedis();
      await skewCase(createRedisStore({ client, prefix }), sleep);
    });
  });
});
