/**
 * A per-user message rate holds across instances (issue 17): three instances as real processes on
 * one Redis, one user with five connections spread over them (2 + 2 + 1), every connection
 * sending 200 frames at once (within its own per-connection burst of 200). The user's budget is
 * the default 400 at once (200/s after); each instance leases it in slices of 40. Before, each
 * instance held the whole budget for itself: about 1,000 of the 1,000 frames went through. Now at
 * most the budget plus one slice per instance, plus what the rate refills while the test runs.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import {
  connectRedis,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
} from '../store/redis-env.ts';
import {
  accepted,
  attempt,
  closeAll,
  type Instance,
  killAll,
  sleep,
  startInstance,
  token,
} from './cluster-env.ts';

const skip = await redisSkipReason();

describe.skipIf(skip !== undefined)(
  `a per-user message rate across three instances${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('user-rate');
    let redis: Redis;
    let instances: Instance[] = [];
    const open: WebSocket[] = [];

    beforeAll(async () => {
      redis = await connectRedis();
      const started = await Promise.allSettled(
        ['127.0.0.21', '127.0.0.22', '127.0.0.23'].map((host, i) =>
          startInstance({ redisUrl: REDIS_URL, prefix, host, name: `R${i}` }),
        ),
      );
      instances = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (instances.length < 3) {
        await killAll(instances);
        throw (started.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      }
    }, 60_000);

    afterAll(async () => {
      for (const ws of open) ws.terminate();
      await killAll(instances);
      if (redis) {
        await deletePrefix(redis, prefix);
        await redis.quit();
      }
    }, 30_000);

    it('gives one user at most the budget plus one slice per instance, not the budget per instance', async () => {
      const [x, y, z] = instances as [Instance, Instance, Instance];
      const url = async (i: Instance) => `${i.ws}/ws?token=${await token('flooder')}`;
      const outcomes = await Promise.all(
        [x, x, y, y, z].map(async (i, k) =>
          attempt(await url(i), { localAddress: `127.7.0.${k + 1}` }),
        ),
      );
      const sockets = accepted(outcomes);
      expect(sockets).toHaveLength(5);
      open.push(...sockets);
      await sleep(2500); // the opening PINGs' budget refills (200/s)
      let pongs = 0;
      for (const ws of sockets) {
        ws.on('message', (data) => {
          if (String(data) === 'PONG') pongs++;
        });
      }
      const started = Date.now();
      for (const ws of sockets) for (let i = 0; i < 200; i++) ws.send('PING');
      await sleep(1500);
      const elapsedSec = (Date.now() - started) / 1000;
      // Budget 400 + 3 slices of 40, and 200/s refilled over the run.
      const bound = 400 + 3 * 40 + Math.ceil(200 * elapsedSec);
      console.info(
        `[user-rate] ${pongs} of 1000 frames through, bound ${bound} (${elapsedSec.toFixed(2)} s)`,
      );
      expect(pongs).toBeLessThanOrEqual(bound);
      expect(pongs).toBeGreaterThanOrEqual(300);
      await closeAll(sockets.filter((ws) => ws.readyState === ws.OPEN));
    }, 60_000);
  },
);
