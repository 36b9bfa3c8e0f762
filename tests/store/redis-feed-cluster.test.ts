/**
 * The Redis Streams feed on a real Redis Cluster (`scripts/cluster-up.sh`): publish and follow,
 * resume, fan-out of many topics from one `XREAD` (the prefix carries a hash tag, so every stream
 * lies in one slot), idempotent publishes with and without a hash tag, a new topic joining a
 * blocked read, and the `trimmed` end of a reader that falls behind. Outcomes only.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedError } from '../../src/feed/feed-error.ts';
import type { RedisFeedOptions, RedisFeedReader } from '../../src/feed/feed-options.ts';
import { createRedisFeed, type RedisFeed } from '../../src/feed/redis-feed.ts';
import {
  announceClusterSkip,
  clusterSkipReason,
  connectCluster,
  deleteClusterPrefix,
  keySlot,
} from './cluster-env.ts';
import { eventually, uniquePrefix } from './redis-env.ts';

const skip = await clusterSkipReason();
announceClusterSkip('tests/store/redis-feed-cluster.test.ts', skip);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collect `count` events from a follower (then stop it). */
async function take<T>(events: AsyncGenerator<[string, T]>, count: number): Promise<[string, T][]> {
  const out: [string, T][] = [];
  for await (const event of events) {
    out.push(event);
    if (out.length >= count) break;
  }
  return out;
}

/** A reader on a duplicate of `cluster` that tells which keys its XREAD in flight blocks on. */
function watchedReader(cluster: Cluster) {
  const reader = cluster.duplicate();
  reader.on('error', () => {});
  const state = {
    reading: [] as string[],
    xreads: 0,
    frozen: undefined as Promise<void> | undefined,
  };
  let thaw: (() => void) | undefined;
  const wrapped: RedisFeedReader = {
    call: async (command: string, ...args: (string | number)[]) => {
      if (command !== 'XREAD') return reader.call(command, ...args);
      if (state.frozen) await state.frozen;
      state.xreads++;
      const n = (args.length - 5) / 2;
      state.reading = args.slice(5, 5 + n).map(String);
      try {
        return await reader.call(command, ...args);
      } finally {
        state.reading = [];
      }
    },
    disconnect: (reconnect?: boolean) => reader.disconnect(reconnect),
  };
  return {
    reader: wrapped,
    state,
    /** Resolves once the reader blocks on every one of `keys`. */
    live: (...keys: string[]) =>
      eventually(async () => {
        for (const k of keys) expect(state.reading).toContain(k);
      }),
    freeze: () => {
      state.frozen = new Promise((resolve) => {
        thaw = resolve;
      });
    },
    thaw: () => {
      state.frozen = undefined;
      thaw?.();
    },
    close: () => reader.disconnect(),
  };
}

describe.skipIf(skip !== undefined)(
  `the Redis Streams feed on Redis Cluster${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    // A hash tag in the prefix puts every topic's stream in one slot: one XREAD reads them all.
    const prefix = `${uniquePrefix('feed-cluster')}{feed}:`;
    let cluster: Cluster;
    const feeds: RedisFeed<unknown>[] = [];
    const readers: { close(): void }[] = [];
    const errors: unknown[] = [];
    const feed = <T>(extra: Partial<RedisFeedOptions<T>> = {}): RedisFeed<T> => {
      const f = createRedisFeed<T>({
        client: cluster,
        prefix,
        onError: (error) => errors.push(error),
        ...extra,
      });
      feeds.push(f as RedisFeed<unknown>);
      return f;
    };
    const watched = <T>(extra: Partial<RedisFeedOptions<T>> = {}) => {
      const w = watchedReader(cluster);
      readers.push(w);
      return { f: feed<T>({ reader: w.reader, ...extra }), ...w };
    };

    beforeAll(async () => {
      cluster = await connectCluster();
    });
    afterAll(async () => {
      // Closing a feed cuts its blocked read only on a connection it opened: the readers passed
      // in are closed at the same time, so no close waits for a read to time out.
      const closing = feeds.map((f) => f.close());
      for (const r of readers) r.close();
      await Promise.all(closing);
      if (cluster) {
        await deleteClusterPrefix(cluster, prefix.split('{')[0]!);
        await cluster.quit();
      }
    });

    it('publishes and follows in order, resumes after an id, and replays from 0-0', async () => {
      const { f, live } = watched<number>();
      const got = take(f.follow('order', null), 30);
      await live(`${prefix}order`);
      const ids: string[] = [];
      for (let n = 0; n < 30; n++) ids.push(await f.publish('order', n));
      const events = await got;
      expect(events.map(([, v]) => v)).toEqual([...Array(30).keys()]);
      expect(events.map(([id]) => id)).toEqual(ids);
      const resumed = await take(f.follow('order', ids[19]!), 10);
      expect(resumed.map(([id]) => id)).toEqual(ids.slice(20));
      expect((await take(f.follow('order', '0-0'), 30)).map(([, v]) => v)).toEqual([
        ...Array(30).keys(),
      ]);
    });

    it('reads twenty topics in one XREAD on one node, all in the slot of the hash tag', async () => {
      const { f, live } = watched<number>();
      const topics = Array.from({ length: 20 }, (_, i) => `fan-${i}`);
      const followers = topics.map((t) => take(f.follow(t, null), 3));
      await live(...topics.map((t) => prefix + t));
      for (let n = 0; n < 3; n++) await Promise.all(topics.map((t) => f.publish(t, n)));
      for (const r of await Promise.all(followers)) expect(r.map(([, v]) => v)).toEqual([0, 1, 2]);
      const slots = new Set(await Promise.all(topics.map((t) => keySlot(cluster, prefix + t))));
      expect(slots.size).toBe(1);
    });

    it('loses and duplicates nothing across two instances publishing and following', async () => {
      const a = feed<number>();
      const b = feed<number>();
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) ids.push(await a.publish('race', n));
      const events: number[] = [];
      const following = (async () => {
        for await (const [, v] of b.follow('race', ids[9]!)) {
          if (v === -1) break;
          events.push(v);
        }
      })();
      for (let n = 20; n < 400; n++) await (n % 2 ? a : b).publish('race', n);
      await a.publish('race', -1);
      await following;
      expect(events).toEqual(Array.from({ length: 390 }, (_, i) => i + 10));
    });

    it('appends once per idempotency key, with or without a hash tag in the prefix', async () => {
      const plain = `${uniquePrefix('feed-cluster')}plain:`;
      for (const p of [prefix, plain]) {
        const f = feed<number>({ prefix: p });
        const first = await f.publish('idem', 1, { idempotencyKey: 'order-1' });
        expect(await f.publish('idem', 1, { idempotencyKey: 'order-1' })).toBe(first);
        await f.publish('idem', 2, { idempotencyKey: 'order-2' });
        expect(await cluster.call('XLEN', `${p}idem`)).toBe(2);
      }
      await deleteClusterPrefix(cluster, plain);
    });

    it('sends no CLIENT ID or UNBLOCK (ids are per node); a new topic joins within blockMs', async () => {
      // On a Cluster, CLIENT ID and CLIENT UNBLOCK carry no key, so ioredis sends each to a random
      // node: the id is of another connection than the one blocked in XREAD, and the UNBLOCK may
      // wake an unrelated client that has the same id on another node.
      const commands: string[] = [];
      const client = {
        isCluster: cluster.isCluster,
        call: (command: string, ...args: (string | number)[]) => {
          commands.push(`${command} ${args[0] ?? ''}`.trim());
          return cluster.call(command, ...args);
        },
      };
      const w = watchedReader(cluster);
      readers.push(w);
      const recorded: RedisFeedReader = {
        ...w.reader,
        isCluster: true,
        call: (command: string, ...args: (string | number)[]) => {
          commands.push(`${command} ${args[0] ?? ''}`.trim());
          return w.reader.call(command, ...args);
        },
      };
      const f = feed<string>({ client, reader: recorded, blockMs: 1500 });
      const a = take(f.follow('unblock-a', null), 1);
      await w.live(`${prefix}unblock-a`);
      const b = take(f.follow('unblock-b', null), 1);
      await w.live(`${prefix}unblock-a`, `${prefix}unblock-b`);
      await f.publish('unblock-b', 'b');
      expect((await b).map(([, v]) => v)).toEqual(['b']);
      await f.publish('unblock-a', 'a');
      expect((await a).map(([, v]) => v)).toEqual(['a']);
      expect(commands.filter((c) => c.startsWith('CLIENT'))).toEqual([]);
    }, 15_000);

    it('a frozen reader that falls behind by maxLen ends its follower with trimmed', async () => {
      const w = watched<number>({ maxLen: 20, blockMs: 100 });
      const publisher = feed<number>({ maxLen: 20 });
      const marker = await publisher.publish('frozen', 0);
      const events = w.f.follow('frozen', marker);
      const next = events.next();
      await publisher.publish('frozen', 1);
      expect((await next).done).toBe(false);
      w.freeze();
      await sleep(300);
      for (let n = 2; n <= 300; n++) await publisher.publish('frozen', n);
      w.thaw();
      const error = await (async () => {
        for await (const [, v] of events) if (v >= 300) return undefined;
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('trimmed');
    }, 20_000);
  },
);
