/**
 * Review of `onStoreError: 'local'` (store/fallback.ts) on real Redis behind a TCP proxy the test
 * cuts: the local copy of a ban must not outlive the ban. An admin who lifted a false positive (a
 * school's NAT, say) must not see it come back on every instance at the next Redis blip.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis.ts';
import { connectRedis, deletePrefix, redisSkipReason, uniquePrefix } from '../store/redis-env.ts';
import { startTcpProxy, type TcpProxy } from '../store/tcp-proxy.ts';
import { testGuard } from '../unit/fixtures/guards.ts';

const skip = await redisSkipReason();
if (skip !== undefined) console.warn(`Redis suite did not run: review fallback unban: ${skip}`);

describe.skipIf(skip !== undefined)('local fallback and unban (review, real Redis)', () => {
  let direct: Redis;
  let viaProxy: Redis;
  let proxy: TcpProxy;
  const prefix = uniquePrefix('review-fallback');
  beforeAll(async () => {
    direct = await connectRedis();
    proxy = await startTcpProxy('127.0.0.1', 6379);
    viaProxy = await connectRedis(`redis://127.0.0.1:${proxy.port}`);
  });
  afterAll(async () => {
    await deletePrefix(direct, prefix);
    viaProxy?.disconnect();
    direct?.disconnect();
    await proxy?.close();
  });

  it('found in review: an unbanned address is refused as banned again once the store is unreachable', async () => {
    const store = createRedisStore({ client: viaProxy, prefix, commandTimeoutMs: 200 });
    const { guard, upgrade } = testGuard(store, {
      limits: {
        connectRate: false,
        maxConnectionsPerIp: false,
        maxConnectionsPerUser: false,
        onStoreError: 'local',
      },
    });
    await guard.ban('ip', '198.51.100.7', 300_000);
    expect((await upgrade({ sub: 'u', ip: '198.51.100.7' })).ok).toBe(false);
    await guard.unban('ip', '198.51.100.7');
    expect((await upgrade({ sub: 'u', ip: '198.51.100.7' })).ok).toBe(true);

    await proxy.cut(); // Redis unreachable: ban lookups fall back to this instance's memory
    const other = await upgrade({ sub: 'v', ip: '198.51.100.8' });
    expect(other.ok).toBe(true); // the outage path admits an address with no ban
    const unbanned = await upgrade({ sub: 'u', ip: '198.51.100.7' });
    expect(unbanned.ok ? 'accepted' : unbanned.reason).toBe('accepted');
    await proxy.restore();
    await guard.shutdown();
  });
});
