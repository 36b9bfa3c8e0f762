/**
 * The Redis store passes the store contract on a real Redis Cluster (three primaries, one replica
 * each: `scripts/cluster-up.sh`), with three more Cluster connections racing as instances would:
 * tickets redeemed once, rate limits and lease caps never exceeded, scores never lost. The keys
 * of the suite spread over every primary, so EVALSHA is routed to, and loads its script on,
 * several nodes.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/contract.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import {
  announceClusterSkip,
  clusterSkipReason,
  connectCluster,
  deleteClusterPrefix,
  keySlot,
} from './cluster-env.ts';
import { storeContract } from './contract.ts';
import { eventually, uniquePrefix } from './redis-env.ts';

const skip = await clusterSkipReason();
announceClusterSkip('tests/store/redis-cluster.test.ts', skip);

const contractPrefix = uniquePrefix('cluster-contract');
const clients: Cluster[] = [];
const open = async (): Promise<Store> => {
  const client = await connectCluster();
  clients.push(client);
  return createRedisStore({ client, prefix: contractPrefix });
};
storeContract('redis on Redis Cluster', open, {
  skip,
  peers: () => Promise.all([open(), open(), open()]),
  cleanup: async () => {
    const [first, ...rest] = clients.splice(0);
    if (first) {
      await deleteClusterPrefix(first, contractPrefix);
      await first.quit();
    }
    await Promise.all(rest.map((c) => c.quit()));
  },
});

describe.skipIf(skip !== undefined)(
  `redis store on Redis Cluster, specifics${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('cluster-specifics');
    let cluster: Cluster;
    let store: Store;

    beforeAll(async () => {
      cluster = await connectCluster();
      store = createRedisStore({ client: cluster, prefix });
    });
    afterAll(async () => {
      if (!cluster) return;
      await deleteClusterPrefix(cluster, prefix);
      await cluster.quit();
    });

    it('spreads keys over every primary, and each script runs on the node of its key', async () => {
      const primaries = cluster.nodes('master');
      expect(primaries.length).toBeGreaterThanOrEqual(3);
      const keys = Array.from({ length: 30 }, (_, i) => `spread-${i}`);
      for (const k of keys) {
        expect((await store.limit(`${k}:rate`, { limit: 5, windowMs: 60_000 })).allowed).toBe(true);
        expect((await store.acquireLease(`${k}:lease`, 'a', 1, 60_000)).ok).toBe(true);
        expect(await store.addScore(`${k}:score`, 2, 60_000)).toBeCloseTo(2, 3);
      }
      // Where the keys are: each primary holds some, each key on the node that owns its slot.
      const holders = await Promise.all(
        primaries.map(async (node) => (await node.keys(`${prefix}*`)).length),
      );
      expect(
        holders.every((n) => n > 0),
        `keys per primary: ${holders}`,
      ).toBe(true);
      expect(holders.reduce((a, b) => a + b, 0)).toBe(keys.length * 4);
      const slots = new Set(
        await Promise.all(keys.map((k) => keySlot(cluster, `${prefix}${k}:rate`))),
      );
      expect(slots.size).toBeGreaterThan(1);
    });

    it('redeems a ticket once of 200 takes over four Cluster connections', async () => {
      const others = await Promise.all([connectCluster(), connectCluster(), connectCluster()]);
      try {
        const stores = [store, ...others.map((client) => createRedisStore({ client, prefix }))];
        for (let round = 0; round < 5; round++) {
          const k = `ticket-${round}`;
          await store.set(k, `t${round}`, 60_000);
          const got = await Promise.all(
            Array.from({ length: 200 }, (_, i) =>
              i % 2 ? stores[i % 4]!.take(k) : stores[i % 4]!.takeWithTtl!(k),
            ),
          );
          expect(got.filter((v) => v !== undefined)).toHaveLength(1);
        }
      } finally {
        await Promise.all(others.map((c) => c.quit()));
      }
    });

    it('carries channel messages (bans) between instances over Cluster pub/sub', async () => {
      const other = await connectCluster();
      try {
        const listener = createRedisStore({ client: other, prefix });
        const got: string[] = [];
        let resyncs = 0;
        const sub = listener.subscribe?.('bans', {
          message: (m) => got.push(m),
          resync: () => resyncs++,
        });
        expect(sub).toBeDefined();
        // Subscribed once the first resync is called (after SUBSCRIBE succeeded).
        await eventually(async () => expect(resyncs).toBeGreaterThan(0));
        await store.publish!('bans', 'ban:1.2.3.4');
        await eventually(async () => expect(got).toEqual(['ban:1.2.3.4']));
        await sub?.close();
      } finally {
        await other.quit();
      }
    });
  },
);
