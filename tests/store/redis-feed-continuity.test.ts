/**
 * The feed never skips and never doubles without saying so, on a real Redis:
 * - a live reader that falls behind by more than `maxLen` (its instance frozen) ends its
 *   followers with `trimmed` instead of jumping over the events it can no longer read;
 * - a follower catching up whose next page was trimmed away meanwhile ends the same way;
 * - `onTrimmed: 'resume'` goes on but reports the gap;
 * - a publish with an idempotency key appends once, whatever the retries, also when the first
 *   attempt timed out on a stalled Redis and went through afterwards.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { FeedError } from '../../src/feed/feed-error.ts';
import type { RedisFeedOptions, RedisFeedReader } from '../../src/feed/feed-options.ts';
import { createRedisFeed, type RedisFeed } from '../../src/feed/redis-feed.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
} from './redis-env.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/redis-feed-continuity.test.ts', skip);

/** A reader whose XREADs can be held back (the instance frozen) and let go again. */
function freezable(redis: Redis) {
  const reader = redis.duplicate();
  reader.on('error', () => {});
  let frozen: Promise<void> | undefined;
  let thaw: (() => void) | undefined;
  const wrapped: RedisFeedReader = {
    call: async (command: string, ...args: (string | number)[]) => {
      if (command === 'XREAD' && frozen) await frozen;
      return reader.call(command, ...args);
    },
    disconnect: (reconnect?: boolean) => reader.disconnect(reconnect),
  };
  return {
    reader: wrapped,
    freeze(): void {
      frozen = new Promise((resolve) => {
        thaw = resolve;
      });
    },
    thaw(): void {
      frozen = undefined;
      thaw?.();
    },
    close: () => reader.disconnect(),
  };
}

/** Read a follower until it ends; what it yielded, and how it ended. */
async function drain(
  events: AsyncGenerator<[string, number]>,
  until: number,
): Promise<{ values: number[]; error: unknown }> {
  const values: number[] = [];
  try {
    for await (const [, v] of events) {
      values.push(v);
      if (v >= until) break;
    }
  } catch (error) {
    return { values, error };
  }
  return { values, error: undefined };
}

/** Every value is its predecessor plus one. */
function consecutive(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v === values[i - 1]! + 1);
}

describe.skipIf(skip !== undefined)(
  `the feed's continuity and idempotent publishes${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('feed-gap');
    let redis: Redis;
    const feeds: RedisFeed<number>[] = [];
    const errors: unknown[] = [];
    const feed = (extra: Partial<RedisFeedOptions<number>> = {}): RedisFeed<number> => {
      const f = createRedisFeed<number>({
        client: redis,
        prefix,
        onError: (error) => errors.push(error),
        // Timeouts are not under test here (but in the stall case, which sets its own): a busy
        // machine must not turn a slow publish into a retried catch-up page.
        commandTimeoutMs: 5000,
        ...extra,
      });
      feeds.push(f);
      return f;
    };
    const publishAll = async (f: RedisFeed<number>, topic: string, from: number, to: number) => {
      for (let n = from; n <= to; n += 50) {
        const batch: Promise<string>[] = [];
        for (let i = n; i < Math.min(n + 50, to + 1); i++) batch.push(f.publish(topic, i));
        await Promise.all(batch);
      }
    };

    beforeAll(async () => {
      redis = await connectRedis(REDIS_URL);
    });
    afterAll(async () => {
      for (const f of feeds) await f.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });

    it('a frozen reader that falls behind by maxLen ends its follower with trimmed', async () => {
      const frozen = freezable(redis);
      const f = feed({ reader: frozen.reader, maxLen: 20, blockMs: 100 });
      const publisher = feed({ maxLen: 20 });
      const marker = await publisher.publish('frozen', 0);
      const events = f.follow('frozen', marker);
      const next = events.next();
      await publisher.publish('frozen', 1);
      const first = await next;
      expect(first.done).toBe(false);
      const result = drain(events, 1000);
      frozen.freeze();
      // Let the read in flight return; the next one waits behind the freeze.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await publishAll(publisher, 'frozen', 2, 1000);
      frozen.thaw();
      const { values, error } = await result;
      frozen.close();
      // Never a silent jump: what arrived is gapless, and the follower was told the rest is gone.
      expect(consecutive([first.value![1], ...values])).toBe(true);
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('trimmed');
    }, 20_000);

    it('a catch-up whose next page was trimmed meanwhile ends with trimmed', async () => {
      const publisher = feed();
      const first = await publisher.publish('paging', 0);
      await publishAll(publisher, 'paging', 1, 1200);
      let xranges = 0;
      const client = {
        call: async (command: string, ...args: (string | number)[]) => {
          // After the first page, the stream moves on by more than maxLen before the next one.
          if (command === 'XRANGE' && ++xranges === 2) {
            await publishAll(publisher, 'paging', 1201, 2600);
            await redis.call('XTRIM', `${prefix}paging`, 'MAXLEN', 500);
          }
          return redis.call(command, ...args);
        },
        duplicate: () => redis.duplicate(),
      };
      const f = feed({ client, maxLen: 500 });
      const { values, error } = await drain(f.follow('paging', first), 2600);
      expect(values.length).toBeGreaterThan(0);
      expect(consecutive(values)).toBe(true);
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('trimmed');
    }, 20_000);

    it("onTrimmed 'resume' goes on after a gap and reports it", async () => {
      const frozen = freezable(redis);
      const seen = errors.length;
      const f = feed({ reader: frozen.reader, maxLen: 20, blockMs: 100, onTrimmed: 'resume' });
      const publisher = feed({ maxLen: 20 });
      const marker = await publisher.publish('resume', 0);
      const result = drain(f.follow('resume', marker), 1000);
      await publisher.publish('resume', 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      frozen.freeze();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await publishAll(publisher, 'resume', 2, 1000);
      frozen.thaw();
      const { values, error } = await result;
      frozen.close();
      expect(error).toBeUndefined();
      expect(values.at(-1)).toBe(1000);
      expect(consecutive(values)).toBe(false);
      const gaps = errors.slice(seen).filter((e) => e instanceof FeedError);
      expect(gaps.length).toBeGreaterThan(0);
      expect((gaps[0] as FeedError).reason).toBe('trimmed');
    }, 20_000);

    it('a second publish with the same idempotency key is not appended', async () => {
      const f = feed();
      const a = await f.publish('idem', 1, { idempotencyKey: 'order-1' });
      const b = await f.publish('idem', 1, { idempotencyKey: 'order-1' });
      const c = await f.publish('idem', 2, { idempotencyKey: 'order-2' });
      const d = await f.publish('idem', 3);
      expect(b).toBe(a);
      expect(c).not.toBe(a);
      expect(d).not.toBe(c);
      const entries = (await redis.call('XRANGE', `${prefix}idem`, '-', '+')) as unknown[];
      expect(entries).toHaveLength(3);
    });

    it('refuses an idempotency key that is empty, too long or not a string', async () => {
      const f = feed();
      for (const idempotencyKey of ['', 'k'.repeat(201), 42 as unknown as string]) {
        await expect(f.publish('idem-bad', 1, { idempotencyKey })).rejects.toBeInstanceOf(
          TypeError,
        );
      }
      await expect(f.publish('idem-bad', 1, { idempotencyKey: 'k'.repeat(200) })).resolves.toMatch(
        /^\d+-\d+$/,
      );
    });

    describe('on a Redis that stalls', () => {
      let proxy: TcpProxy;
      let viaProxy: Redis;
      beforeAll(async () => {
        const target = new URL(REDIS_URL);
        proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
        viaProxy = await connectRedis(`redis://127.0.0.1:${proxy.port}`);
      });
      afterAll(async () => {
        viaProxy?.disconnect();
        await proxy?.close();
      });

      it('a timed-out publish retried with its key is appended once', async () => {
        const f = feed({ client: viaProxy, commandTimeoutMs: 100 });
        const keys = Array.from({ length: 20 }, (_, i) => `stall-${i}`);
        proxy.stall();
        const attempts = keys.map((idempotencyKey, i) =>
          f.publish('idem-stall', i, { idempotencyKey }),
        );
        for (const attempt of attempts) {
          await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
        }
        proxy.resume();
        // The stalled attempts reach Redis now; the retries, with the same keys, must not add more.
        const retried = [];
        for (const [i, idempotencyKey] of keys.entries()) {
          retried.push(await f.publish('idem-stall', i, { idempotencyKey }));
        }
        const entries = (await redis.call('XRANGE', `${prefix}idem-stall`, '-', '+')) as [
          string,
          unknown,
        ][];
        expect(entries.map(([id]) => id)).toEqual(retried);
      }, 20_000);
    });
  },
);
