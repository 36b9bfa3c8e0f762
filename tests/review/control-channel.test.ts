/**
 * Review of "bans reach every instance" on real Redis: what a message on `<prefix>control` that
 * this guard did not publish can do. PUBLISH needs no key permission (a co-tenant app restricted to
 * its own key prefix may still publish on any channel unless its ACL says `resetchannels`), so the
 * channel is an input, not a trusted peer.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis.ts';
import { connectRedis, deletePrefix, redisSkipReason, uniquePrefix } from '../store/redis-env.ts';
import { settle, testGuard } from '../unit/fixtures/guards.ts';

const skip = await redisSkipReason();
if (skip !== undefined) console.warn(`Redis suite did not run: review control channel: ${skip}`);

describe.skipIf(skip !== undefined)('control channel (review, real Redis)', () => {
  let redis: Redis;
  let publisher: Redis;
  const prefixes: string[] = [];
  beforeAll(async () => {
    redis = await connectRedis();
    publisher = await connectRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(redis, p);
    redis?.disconnect();
    publisher?.disconnect();
  });

  /** A guard on Redis holding one socket from `ip`, subscribed to the control channel. */
  async function guardWithSocket(ip: string) {
    const prefix = uniquePrefix('review-control');
    prefixes.push(prefix);
    const store = createRedisStore({ client: redis, prefix, commandTimeoutMs: 1000 });
    const t = testGuard(store, { limits: { connectRate: false } });
    const s = await t.open({ sub: 'alice', ip });
    // The subscriber connects and subscribes on its own connection: wait for the SUBSCRIBE.
    for (let i = 0; i < 100; i++) {
      const n = (await publisher.call('PUBSUB', 'NUMSUB', `${prefix}control`)) as [string, number];
      if (Number(n[1]) > 0) break;
      await settle(20);
    }
    const publish = (m: unknown) =>
      publisher.publish(`${prefix}control`, typeof m === 'string' ? m : JSON.stringify(m));
    return { ...t, s, publish, shutdown: () => t.guard.shutdown() };
  }

  it('found in review: a control message whose `until` is past the Date range throws out of the Redis message listener', async () => {
    const g = await guardWithSocket('203.0.113.50');
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      await g.publish({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: '203.0.113.50',
        until: 1e300,
      });
      await settle(200);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    // Nothing may escape into the process (in production: a crash of every subscribed instance).
    expect(errors.map(String)).toEqual([]);
    // And a new handshake from that address is still answered (not a 500 "internal").
    const d = await g.upgrade({ sub: 'bob', ip: '203.0.113.50' });
    expect(d.ok || d.reason === 'banned').toBe(true);
    await g.shutdown();
  });

  it('found in review (hardening): a forged ban message, with no ban in the store, closes the sockets it names', async () => {
    const g = await guardWithSocket('203.0.113.51');
    expect(await g.guard.bannedUntil('ip', '203.0.113.51')).toBeUndefined();
    await g.publish({
      v: 1,
      from: 'forger',
      kind: 'ban',
      subject: 'user',
      id: 'alice',
      until: Date.now() + 3_600_000,
    });
    await settle(200);
    // The store holds no ban: a hint that the store contradicts should not close anyone.
    expect(g.s.closes).toEqual([]);
    await g.shutdown();
  });

  it('holds: malformed, oversized and prototype-laden control messages are ignored', async () => {
    const g = await guardWithSocket('203.0.113.52');
    const bad: unknown[] = [
      'not json',
      'null',
      '[]',
      JSON.stringify({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: 7,
        until: Date.now() + 1e6,
      }),
      JSON.stringify({
        v: 2,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: '203.0.113.52',
        until: Date.now() + 1e6,
      }),
      JSON.stringify({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'host',
        id: '203.0.113.52',
        until: Date.now() + 1e6,
      }),
      JSON.stringify({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: '203.0.113.52',
        until: 'soon',
      }),
      `{"__proto__":{"v":1},"from":"x","kind":"ban","subject":"ip","id":"203.0.113.52","until":${Date.now() + 1e6}}`,
      JSON.stringify({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: '203.0.113.52',
        until: Date.now() - 1,
      }),
      JSON.stringify({
        v: 1,
        from: 'x',
        kind: 'ban',
        subject: 'ip',
        id: '203.0.113.52',
        until: Date.now() + 1e6,
        pad: 'x'.repeat(5000),
      }),
    ];
    for (const m of bad) await g.publish(m);
    await settle(200);
    expect(g.s.closes).toEqual([]);
    expect(g.s.connection.closed).toBe(false);
    await g.shutdown();
  });
});
