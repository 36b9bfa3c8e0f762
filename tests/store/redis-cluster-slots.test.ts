/**
 * Our key layout is what keeps the store and the feed working on a Redis Cluster: a script whose
 * keys lie in two slots is refused with CROSSSLOT there, and every multi-key call the store and
 * the feed make (lease scripts, an idempotent publish, one XREAD over many topics) names keys of
 * one slot, checked with `CLUSTER KEYSLOT` on the real Cluster.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisFeed } from '../../src/feed/redis-feed.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import type { RedisClientLike } from '../../src/store/redis-client.ts';
import { ScriptRunner } from '../../src/store/redis-script-runner.ts';
import { SCRIPTS } from '../../src/store/redis-scripts.ts';
import {
  announceClusterSkip,
  clusterSkipReason,
  connectCluster,
  deleteClusterPrefix,
  keySlot,
  whenClusterReady,
} from './cluster-env.ts';
import { eventually, uniquePrefix } from './redis-env.ts';

const skip = await clusterSkipReason();
announceClusterSkip('tests/store/redis-cluster-slots.test.ts', skip);

/** The keys of an EVAL/EVALSHA or an XREAD, or `undefined` for a command without several. */
function keysOf(command: string, args: readonly (string | number)[]): string[] | undefined {
  if (command === 'EVAL' || command === 'EVALSHA') {
    return args.slice(2, 2 + Number(args[1])).map(String);
  }
  if (command === 'XREAD') {
    const at = args.indexOf('STREAMS');
    const streams = args.slice(at + 1);
    return streams.slice(0, streams.length / 2).map(String);
  }
  return undefined;
}

/** One recorded multi-key candidate: the command and its keys. */
interface Recorded {
  readonly command: string;
  readonly keys: string[];
}

/** A client that records (into `calls`) the keys of every script and XREAD it sends. */
function recording(cluster: Cluster, calls: Recorded[] = []) {
  const client: RedisClientLike & { isCluster: boolean } = {
    isCluster: true,
    call: (command, ...args) => {
      const keys = keysOf(command, args);
      if (keys) calls.push({ command, keys });
      return cluster.call(command, ...args);
    },
  };
  return { client, calls };
}

/** The error a promise rejects with (its cause, when wrapped), as text. */
async function failure(p: Promise<unknown>): Promise<string> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  const cause = (error as { cause?: unknown })?.cause ?? error;
  return String(cause);
}

describe.skipIf(skip !== undefined)(
  `key layout on Redis Cluster${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('slots');
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await connectCluster();
    });
    afterAll(async () => {
      if (!cluster) return;
      await deleteClusterPrefix(cluster, prefix);
      await cluster.quit();
    });

    it('refuses a lease script over two keys in different slots with CROSSSLOT', async () => {
      // The lease keys without their hash tag: the layout the store avoids.
      const keys = [`${prefix}lease:exp`, `${prefix}lease:seq`];
      expect(await keySlot(cluster, keys[0]!)).not.toBe(await keySlot(cluster, keys[1]!));
      const scripts = new ScriptRunner(cluster);
      const args = ['a', 5, 60_000, 0, ''];
      expect(await failure(scripts.eval(SCRIPTS.acquire, keys, args))).toMatch(/CROSSSLOT/);
      // The same script over the store's layout runs.
      const tagged = [`${prefix}{lease}:exp`, `${prefix}{lease}:seq`];
      expect(await scripts.eval(SCRIPTS.acquire, tagged, args)).toEqual([1, 1]);
    });

    it('refuses a publish whose idempotency record is outside the stream slot', async () => {
      const { PUBLISH } = await import('../../src/feed/publish-script.ts');
      const stream = `${prefix}stream`;
      let record = `${prefix}idem-0`;
      const slot = await keySlot(cluster, stream);
      for (let i = 1; i < 100 && (await keySlot(cluster, record)) === slot; i++) {
        record = `${prefix}idem-${i}`;
      }
      expect(await keySlot(cluster, record)).not.toBe(slot);
      const scripts = new ScriptRunner(cluster);
      const publish = scripts.eval(PUBLISH, [stream, record], [100, 60_000, '"v"', 60_000]);
      expect(await failure(publish)).toMatch(/CROSSSLOT/);
    });

    it('a feed without a hash tag in its prefix cannot read two topics of two slots', async () => {
      const plain = `${prefix}plain-feed:`;
      const errors: unknown[] = [];
      const feed = createRedisFeed<number>({
        client: cluster,
        prefix: plain,
        blockMs: 200,
        onError: (e) => errors.push(e),
      });
      const topics = ['a', 'b'];
      expect(await keySlot(cluster, `${plain}a`)).not.toBe(await keySlot(cluster, `${plain}b`));
      const ac = new AbortController();
      const following = topics.map(async (t) => {
        for await (const _ of feed.follow(t, null, ac.signal)) break;
      });
      try {
        await eventually(async () => expect(errors.map(String).join()).toMatch(/CROSSSLOT/));
      } finally {
        ac.abort();
        await feed.close();
        await Promise.all(following);
      }
    });

    it('every multi-key call of the store and the feed names keys of one slot', async () => {
      const { client, calls } = recording(cluster);
      const store = createRedisStore({ client, prefix });
      for (let i = 0; i < 10; i++) {
        const k = `layout-${i}`;
        await store.set(`${k}:t`, 'v', 60_000);
        await store.takeWithTtl!(`${k}:t`);
        await store.limit(`${k}:rate`, { limit: 5, windowMs: 60_000 });
        await store.acquireLease(`${k}:lease`, 'a', 1, 60_000);
        await store.acquireLease(`${k}:lease`, 'b', 1, 60_000, { evictOldest: true });
        await store.renewLeases(`${k}:lease`, ['b'], 60_000);
        await store.countLeases(`${k}:lease`);
        await store.releaseLease(`${k}:lease`, 'b');
        await store.addScore(`${k}:score`, 1, 60_000);
      }
      const feedPrefix = `${prefix}{feed}:`;
      const dup = cluster.duplicate();
      dup.on('error', () => {});
      await whenClusterReady(dup);
      const reader = { ...recording(dup, calls).client, disconnect: () => dup.disconnect() };
      const feed = createRedisFeed<number>({ client, reader, prefix: feedPrefix, blockMs: 200 });
      // Without a hash tag in the prefix, an idempotency record takes the stream key as its tag.
      const plain = createRedisFeed<number>({ client, reader, prefix: `${prefix}p:` });
      const ac = new AbortController();
      const topics = Array.from({ length: 5 }, (_, i) => `topic-${i}`);
      try {
        const following = topics.map(async (t) => {
          for await (const _ of feed.follow(t, null, ac.signal)) return;
        });
        // One XREAD over all five streams, in flight before anything is published.
        await eventually(async () =>
          expect(calls.some((c) => c.command === 'XREAD' && c.keys.length === 5)).toBe(true),
        );
        for (let i = 0; i < 10; i++) {
          await feed.publish(topics[i % 5]!, i, { idempotencyKey: `id-${i}` });
          await plain.publish(topics[i % 5]!, i, { idempotencyKey: `id-${i}` });
        }
        await Promise.all(following);
      } finally {
        ac.abort();
        await Promise.all([feed.close(), plain.close()]);
        dup.disconnect();
      }
      const multi = calls.filter((c) => c.keys.length > 1);
      // Lease scripts (acquire, renew, release), idempotent publishes, a multi-topic XREAD.
      expect(multi.length).toBeGreaterThanOrEqual(10 * 4 + 20 + 1);
      for (const { command, keys } of multi) {
        const slots = new Set(await Promise.all(keys.map((k) => keySlot(cluster, k))));
        expect(slots.size, `${command} ${keys.join(' ')}`).toBe(1);
      }
    });
  },
);
