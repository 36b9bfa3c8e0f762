/**
 * Issue 17: bans reach every instance on a Redis Cluster when the node carrying an instance's
 * subscription dies. Pub/sub is at most once, so the store must tell the listener to `resync`
 * (re-read the bans of everyone connected) once the subscription is live again on another node;
 * ioredis's Cluster moves the subscription by itself, without a `ready` of the Cluster, which is
 * all the store used to listen to.
 *
 * On its own throw-away Cluster (ports 7120–7125, `CLUSTER_CHANNEL_PORT`), so killing a node
 * disturbs no other suite. Prints how long the channel was deaf and when resync came.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis.ts';
import { connectCluster, type LocalCluster, startLocalCluster } from './cluster-env.ts';
import { redisServerSkipReason } from './redis-env.ts';

const skip = redisServerSkipReason();
if (skip) console.warn(`Redis Cluster suite did not run: redis-cluster-channel-failover: ${skip}`);

const PORT = Number(process.env['CLUSTER_CHANNEL_PORT'] ?? 7120);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The one node holding a connection subscribed to `channel` (`PUBSUB NUMSUB` is per node), once
 * only one does: ioredis may move its subscriber once while it learns the Cluster's layout, and
 * the connection it leaves takes a moment to go (seen: a subscriber on one node at first, on
 * another half a second later).
 */
async function subscriberNode(cluster: Cluster, channel: string): Promise<string | undefined> {
  let last: string | undefined;
  for (let round = 0; round < 50; round++) {
    const holders: string[] = [];
    for (const node of cluster.nodes('all')) {
      const [, count] = (await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      if (count > 0) holders.push(`${node.options.host}:${node.options.port}`);
    }
    // The same single holder twice, a second apart: ioredis has settled on it.
    const one = holders.length === 1 ? holders[0] : undefined;
    if (one !== undefined && one === last) return one;
    last = one;
    await sleep(1000);
  }
  return undefined;
}

describe.skipIf(skip !== undefined)(
  `ban channel through a Cluster node's death${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    let local: LocalCluster;
    const clients: Cluster[] = [];

    beforeAll(() => {
      local = startLocalCluster(PORT);
    }, 70_000);
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      local?.stop();
    }, 40_000);

    it('tells the listener to resync once the subscription has moved to a live node', async () => {
      for (let i = 0; i < 3; i++) clients.push(await connectCluster({}, () => {}, local.nodes));
      const [admin, a, b] = clients as [Cluster, Cluster, Cluster];
      const publisher = createRedisStore({ client: a, prefix: 'chan:', commandTimeoutMs: 250 });
      const listener = createRedisStore({ client: b, prefix: 'chan:', commandTimeoutMs: 250 });
      const heard: { n: number; at: number }[] = [];
      const resyncs: number[] = [];
      const sub = listener.subscribe!('control', {
        message: (m) => heard.push({ n: Number(m), at: performance.now() }),
        resync: () => resyncs.push(performance.now()),
      });
      expect(sub).toBeDefined();
      // Live: a message goes through, and the subscription's own first resync has come.
      let n = 0;
      for (let i = 0; i < 50 && heard.length === 0; i++) {
        await publisher.publish!('control', String(++n)).catch(() => {});
        await sleep(100);
      }
      expect(heard.length).toBeGreaterThan(0);
      const channel = 'chan:control';
      const where = await subscriberNode(admin, channel);
      expect(where, 'no node holds the subscription').toBeDefined();
      const victim = admin
        .nodes('all')
        .find((x) => `${x.options.host}:${x.options.port}` === where)!;
      const pid = Number(/process_id:(\d+)/.exec(await victim.info('server'))![1]);
      const resyncsBefore = resyncs.length;
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      // Publish every 100 ms for at most 20 s, until messages are heard again and a resync came.
      const heardBefore = heard.length;
      for (let i = 0; i < 200; i++) {
        await publisher.publish!('control', String(++n)).catch(() => {});
        await sleep(100);
        const back = heard.length > heardBefore && resyncs.length > resyncsBefore;
        if (back) break;
      }
      const firstBack = heard.slice(heardBefore)[0]?.at;
      const resyncAt = resyncs[resyncsBefore];
      console.info(
        `[cluster channel] subscriber on ${where} killed; heard again after ${firstBack === undefined ? 'never' : `${Math.round(firstBack - killedAt)} ms`}, ` +
          `resync after ${resyncAt === undefined ? 'never' : `${Math.round(resyncAt - killedAt)} ms`}`,
      );
      expect(firstBack, 'the channel never came back').toBeDefined();
      // The messages published while it was deaf are lost: the listener must be told to re-read.
      expect(resyncAt, 'no resync after the subscription moved').toBeDefined();
      // And the resync comes once the new subscription can hear: no message is lost after it.
      const after = heard.filter((h) => h.at >= resyncAt!).map((h) => h.n);
      for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 1);
      await sub!.close();
    }, 60_000);
  },
);
