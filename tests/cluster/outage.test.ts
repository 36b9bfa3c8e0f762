/**
 * Redis stopped mid-run, then started again, under two running instances. The shared Redis is
 * used by others and is never stopped: this suite starts its own `redis-server` on a free port
 * (no persistence) and kills and restarts that one. Asserted by outcome: no instance crashes, every
 * handshake while Redis is down ends (503, or a close code) instead of hanging, open connections
 * stay open, and after the restart the same processes serve again: handshakes, events, and caps
 * that count the connections opened before. The subscriber that waited through the outage is told
 * to reload (Redis came back empty: events it had not read may be gone), never left to go on as if
 * nothing was missing; a new subscription gets what is published after.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { FeedErrorCode, feedErrorCode } from '../../src/client.ts';
import { pingRedis, uniquePrefix } from '../store/redis-env.ts';
import {
  accepted,
  attempt,
  closeAll,
  eventually,
  healthy,
  type Instance,
  killAll,
  type Outcome,
  sleep,
  startInstance,
  tally,
  token,
  trpcClient,
} from './cluster-env.ts';
import { USER_CAP } from './fixtures/config.ts';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const skip = hasRedisServer ? undefined : 'no redis-server binary on PATH to run a private Redis';
if (skip !== undefined) console.warn(`Redis cluster suite did not run: outage: ${skip}`);

/** A free loopback port from 6390 up (bound, then released). */
async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 6390 + Math.floor(Math.random() * 2000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port from 6390');
}

describe.skipIf(skip !== undefined)(
  `a private Redis stopped mid-run and started again${skip ? ` (Redis cluster suite did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('outage');
    let port: number;
    let url: string;
    let redis: ChildProcess | undefined;
    let X: Instance;
    let Y: Instance;
    const sockets: WebSocket[] = [];
    const closers: (() => void)[] = [];

    const startRedis = async (): Promise<void> => {
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { cwd: tmpdir(), stdio: 'ignore' },
      );
      child.on('error', () => {});
      redis = child;
      await eventually(async () => {
        if (!(await pingRedis(url, 200))) throw new Error('private redis-server not up yet');
      }, 50);
    };
    const killRedis = async (): Promise<void> => {
      const child = redis;
      redis = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      await startRedis();
      const started = await Promise.allSettled([
        startInstance({ redisUrl: url, prefix, host: '127.0.0.21', name: 'X' }),
        startInstance({ redisUrl: url, prefix, host: '127.0.0.22', name: 'Y' }),
      ]);
      const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (ok.length < 2) {
        await killAll(ok);
        throw (started.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      }
      [X, Y] = ok as [Instance, Instance];
    }, 60_000);

    afterAll(async () => {
      for (const close of closers) close();
      for (const ws of sockets) ws.terminate();
      await killAll([X, Y]);
      await killRedis();
    }, 30_000);

    it('no crash, no hung handshake, clear refusals while down; normal service after, same processes', async () => {
      const capUrl = async (i: Instance) => `${i.ws}/ws?token=${await token('outage-user')}`;
      // Before: the user's cap is full (connections on both instances), a subscriber on Y
      // follows a topic that X publishes to.
      const held = await Promise.all(
        [X, X, X, Y, Y].map(async (i) => attempt(await capUrl(i), { localAddress: '127.6.0.1' })),
      );
      sockets.push(...accepted(held));
      expect(tally(held)).toEqual({ accepted: USER_CAP });

      const topic = 'outage-room';
      const pub = trpcClient(async () => `${X.ws}/ws?token=${await token('pub')}`, '127.6.0.2');
      closers.push(() => pub.wsClient.close());
      const marker = await pub.trpc.publish.mutate({ topic, n: -1 });
      const sub = trpcClient(async () => `${Y.ws}/ws?token=${await token('sub')}`, '127.6.0.3');
      closers.push(() => sub.wsClient.close());
      const seen: number[] = [];
      const subErrors: unknown[] = [];
      sub.trpc.follow.subscribe(
        { topic, lastEventId: marker },
        { onData: (e) => seen.push(e.data.n), onError: (e) => subErrors.push(e) },
      );
      await pub.trpc.publish.mutate({ topic, n: 1 });
      await eventually(async () => expect(seen).toEqual([1]));

      // Down.
      await killRedis();
      const tries = await Promise.all(
        Array.from({ length: 10 }, async (_, i) =>
          attempt(`${(i % 2 ? X : Y).ws}/ws?token=${await token(`down-${i}`)}`, {
            localAddress: '127.6.0.4',
          }),
        ),
      );
      // Each attempt ended, and said "try again later": 503 at the upgrade (or 1013 after it).
      for (const o of tries) {
        expect(['http 503', 'closed 1013']).toContain(Object.keys(tally([o]))[0]);
      }
      const published = await pub.trpc.publish.mutate({ topic, n: -2 }).then(
        () => 'published',
        (error: unknown) => error,
      );
      expect(published).toBeInstanceOf(TRPCClientError);
      // The open connections stay open and served (they answer PING), the processes are up.
      const pongs = await Promise.all(
        accepted(held).map(
          (ws) =>
            new Promise<string>((resolve) => {
              ws.once('message', (d) => resolve(String(d)));
              ws.send('PING');
            }),
        ),
      );
      expect(pongs).toEqual(Array(USER_CAP).fill('PONG'));
      expect(await healthy(X)).toBe(true);
      expect(await healthy(Y)).toBe(true);
      // Down for longer than a lease renewal period, so renewals fail.
      await sleep(1500);

      // Back, empty (no persistence): the same processes serve again.
      await startRedis();
      // Each instance's Redis client reconnects on its own schedule (≤ 1 s apart): wait until
      // both serve again before asking more of them.
      const firsts: Outcome[] = [];
      for (const [k, instance] of [X, Y].entries()) {
        firsts.push(
          await eventually<Outcome>(async () => {
            const o = await attempt(`${instance.ws}/ws?token=${await token(`after-0-${k}`)}`, {
              localAddress: '127.6.0.5',
            });
            if (o.kind !== 'accepted') throw new Error(`not yet: ${JSON.stringify(tally([o]))}`);
            return o;
          }, 50),
        );
      }
      const more = await Promise.all(
        [X, Y, X, Y].map(async (i, k) =>
          attempt(`${i.ws}/ws?token=${await token(`after-${k + 1}`)}`, {
            localAddress: '127.6.0.5',
          }),
        ),
      );
      expect(tally(more)).toEqual({ accepted: 4 });
      await closeAll([...accepted(firsts), ...accepted(more)]);

      // The subscriber that waited through the outage: the topic starts again at #1 in the new,
      // empty Redis, so it is told RELOAD and skips nothing silently. Followed again, it gets
      // what X publishes from then on.
      await eventually(() => pub.trpc.publish.mutate({ topic, n: 2 }), 30);
      await eventually(async () => expect(subErrors).toHaveLength(1));
      expect(feedErrorCode(subErrors[0])).toBe(FeedErrorCode.Reload);
      expect(seen).toEqual([1]);
      const again: number[] = [];
      const resubscribed = sub.trpc.follow.subscribe(
        { topic, lastEventId: null },
        { onData: (e) => again.push(e.data.n) },
      );
      await eventually(async () => {
        await pub.trpc.publish.mutate({ topic, n: 3 });
        expect(again).toContain(3);
      }, 30);
      resubscribed.unsubscribe();

      // Caps count the connections opened before the outage again: their leases, lost with the
      // old Redis, are taken again at the next renewal, so the user is still full.
      await eventually(
        async () => {
          const o = await attempt(await capUrl(Y), { localAddress: '127.6.0.1' });
          if (o.kind === 'accepted') await closeAll([o.ws]);
          expect(tally([o])).toEqual({ 'closed 4008': 1 });
        },
        20,
        500,
      );

      expect(X.child.exitCode).toBeNull();
      expect(Y.child.exitCode).toBeNull();
      pub.wsClient.close();
      sub.wsClient.close();
    }, 60_000);
  },
);
