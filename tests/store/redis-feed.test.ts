/**
 * The Redis Streams feed on a real Redis: ordered ids, exclusive resume, one reader connection for
 * every follower, bounded slow followers, refused client ids, trimmed history, and a Redis that
 * stalls, dies and comes back. Outcomes only: test timeouts bound waiting, nothing measures time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { FeedError } from '../../src/feed/feed-error.ts';
import type {
  RedisFeedClient,
  RedisFeedOptions,
  RedisFeedReader,
} from '../../src/feed/feed-options.ts';
import { createRedisFeed, type RedisFeed } from '../../src/feed/redis-feed.ts';
import { isStreamId } from '../../src/feed/stream-id.ts';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  eventually,
  pingRedis,
  REDIS_URL,
  redisServerSkipReason,
  redisSkipReason,
  uniquePrefix,
} from './redis-env.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/redis-feed.test.ts', skip);
const noServer = skip ?? redisServerSkipReason();
announceSkip('tests/store/redis-feed.test.ts (restart)', redisServerSkipReason());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collect `count` events from a follower (then stop it). */
async function take<T>(
  iterator: AsyncGenerator<[string, T]>,
  count: number,
): Promise<[string, T][]> {
  const out: [string, T][] = [];
  if (count === 0) return out;
  for await (const event of iterator) {
    out.push(event);
    if (out.length >= count) break;
  }
  return out;
}

/** Counts readers opened and XREADs in flight at once, around a real client. */
function recording(client: Redis) {
  const stats = {
    duplicates: 0,
    xreads: 0,
    maxInFlight: 0,
    inFlight: 0,
    keysPerRead: [] as number[],
    /** Keys of the XREAD in flight, if any. */
    reading: [] as string[],
  };
  const commands: unknown[][] = [];
  const wrap = (c: Redis): RedisFeedReader => ({
    call: async (command: string, ...args: (string | number)[]) => {
      commands.push([command, ...args]);
      if (command !== 'XREAD') return c.call(command, ...args);
      stats.xreads++;
      const n = (args.length - 5) / 2;
      stats.keysPerRead.push(n);
      stats.reading = args.slice(5, 5 + n).map(String);
      stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
      try {
        return await c.call(command, ...args);
      } finally {
        stats.inFlight--;
        stats.reading = [];
      }
    },
    disconnect: (reconnect?: boolean) => c.disconnect(reconnect),
    on: (event: 'error', listener: (error: Error) => void) => c.on(event, listener),
    get status() {
      return c.status;
    },
    once: (event: 'ready', listener: () => void) => c.once(event, listener),
    off: (event: 'ready', listener: () => void) => c.off(event, listener),
  });
  const feedClient: RedisFeedClient = {
    ...wrap(client),
    duplicate: () => {
      stats.duplicates++;
      const d = client.duplicate();
      d.on('error', () => {});
      return wrap(d);
    },
  };
  /**
   * Resolves once the reader blocks on every key of `topics`: a follower's "now" (`null`) is fixed
   * from then on, so what the test publishes next is live for it.
   */
  const live = (prefix: string, ...topics: string[]): Promise<void> =>
    eventually(async () => {
      for (const t of topics) expect(stats.reading).toContain(prefix + t);
    });
  return { feedClient, stats, commands, live };
}

describe.skipIf(skip !== undefined)(
  `the Redis Streams feed${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('feed');
    let redis: Redis;
    const feeds: RedisFeed<unknown>[] = [];
    const errors: unknown[] = [];

    const feed = <T>(extra: Partial<RedisFeedOptions<T>> = {}): RedisFeed<T> => {
      const f = createRedisFeed<T>({
        client: redis,
        prefix,
        onError: (error) => errors.push(error),
        ...extra,
      });
      feeds.push(f as RedisFeed<unknown>);
      return f;
    };
    /** A feed on a recording client, and a way to wait until its reader blocks on topics. */
    const watched = <T>(extra: Partial<RedisFeedOptions<T>> = {}) => {
      const r = recording(redis);
      const f = feed<T>({ client: r.feedClient, ...extra });
      return { f, stats: r.stats, live: (...topics: string[]) => r.live(prefix, ...topics) };
    };

    beforeAll(async () => {
      redis = await connectRedis();
    });
    afterAll(async () => {
      await Promise.all(feeds.map((f) => f.close()));
      if (redis) {
        await deletePrefix(redis, prefix);
        await redis.quit();
      }
    });

    it('refuses bad options', () => {
      expect(() => createRedisFeed({ client: {} as RedisFeedClient })).toThrow(TypeError);
      // A client without duplicate() needs an explicit reader connection.
      expect(() => createRedisFeed({ client: { call: redis.call.bind(redis) } })).toThrow(/reader/);
      expect(() => createRedisFeed({ client: redis, maxLen: 0 })).toThrow(/maxLen/);
      expect(() => createRedisFeed({ client: redis, blockMs: 0 })).toThrow(/blockMs/);
      expect(() => createRedisFeed({ client: redis, maxBuffered: 1.5 })).toThrow(/maxBuffered/);
    });

    it('publishes with ordered stream ids; follow(null) gets what comes after, in order', async () => {
      const { f, live } = watched<{ n: number }>();
      const before = await f.publish('order', { n: -1 });
      expect(isStreamId(before)).toBe(true);
      const got = take(f.follow('order', null), 50);
      await live('order');
      const ids: string[] = [];
      for (let n = 0; n < 50; n++) ids.push(await f.publish('order', { n }));
      const events = await got;
      expect(events.map(([, v]) => v.n)).toEqual([...Array(50).keys()]);
      expect(events.map(([id]) => id)).toEqual(ids);
      // Stream ids are ordered: sorting them as (ms, seq) pairs keeps the publish order.
      const key = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
      const sorted = [...ids].sort((a, b) => {
        const [am, as] = key(a);
        const [bm, bs] = key(b);
        return am === bm ? Number(as - bs) : Number(am - bm);
      });
      expect(sorted).toEqual(ids);
      expect(f.followers).toBe(0);
    });

    it('resumes after an id, exclusive, then goes live; 0-0 replays everything held', async () => {
      const { f, live: isLive } = watched<number>();
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) ids.push(await f.publish('resume', n));
      const resumed = f.follow('resume', ids[9]!);
      const first = await take(resumed, 10);
      expect(first.map(([, v]) => v)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      expect(first.map(([id]) => id)).toEqual(ids.slice(10));

      const live = f.follow('resume', ids[19]!);
      const later = take(live, 3);
      await isLive('resume');
      for (let n = 20; n < 23; n++) await f.publish('resume', n);
      expect((await later).map(([, v]) => v)).toEqual([20, 21, 22]);

      const all = await take(f.follow('resume', '0-0'), 23);
      expect(all.map(([, v]) => v)).toEqual([...Array(23).keys()]);
    });

    it('loses and duplicates nothing when a follower joins during a stream of publishes', async () => {
      const f = feed<number>();
      const publisher = feed<number>();
      const ids: string[] = [];
      let stop = false;
      const publishing = (async () => {
        for (let n = 0; !stop && n < 5000; n++) ids.push(await publisher.publish('race', n));
      })();
      await eventually(async () => expect(ids.length).toBeGreaterThan(50));
      // Join from an id in the middle, while events keep coming: catch-up and live overlap.
      const from = ids[25]!;
      const events: [string, number][] = [];
      const following = (async () => {
        for await (const e of f.follow('race', from)) {
          if (e[1] === -1) break; // the end marker, published after the last event
          events.push(e);
        }
      })();
      await eventually(async () => expect(events.length).toBeGreaterThan(200));
      stop = true;
      await publishing;
      await publisher.publish('race', -1);
      await following;
      expect(events.map(([, v]) => v)).toEqual(
        Array.from({ length: ids.length - 26 }, (_, i) => i + 26),
      );
      expect(events.map(([id]) => id)).toEqual(ids.slice(26));
    });

    it('serves every follower of every topic from one reader connection and one XREAD', async () => {
      const { f, stats, live } = watched<number>();
      const topics = Array.from({ length: 20 }, (_, i) => `fan-${i}`);
      const followers = topics.flatMap((topic) =>
        Array.from({ length: 10 }, () => take(f.follow(topic, null), 5)),
      );
      await eventually(async () => expect(f.followers).toBe(200));
      await live(...topics);
      for (let n = 0; n < 5; n++) await Promise.all(topics.map((t) => f.publish(t, n)));
      const results = await Promise.all(followers);
      for (const r of results) expect(r.map(([, v]) => v)).toEqual([0, 1, 2, 3, 4]);
      expect(stats.duplicates).toBe(1);
      expect(stats.maxInFlight).toBe(1);
    });

    it('adds a new topic to the blocked read at once (CLIENT UNBLOCK), not after blockMs', async () => {
      // With a one-minute block, an event on a second topic arrives within the test's time only
      // if the read was interrupted to include it.
      const { f, stats, live } = watched<string>({ blockMs: 60_000 });
      const a = take(f.follow('unblock-a', null), 1);
      await live('unblock-a');
      const reads = stats.xreads;
      const b = take(f.follow('unblock-b', null), 1);
      // A second read, naming both topics, while the first one was blocked for a minute.
      await live('unblock-a', 'unblock-b');
      expect(stats.xreads).toBeGreaterThan(reads);
      await f.publish('unblock-b', 'b');
      expect((await b).map(([, v]) => v)).toEqual(['b']);
      await f.publish('unblock-a', 'a');
      expect((await a).map(([, v]) => v)).toEqual(['a']);
    }, 15_000);

    it('refuses a client lastEventId that is not a stream id, without sending it to Redis', async () => {
      const { feedClient, commands } = recording(redis);
      const f = feed<number>({ client: feedClient });
      const bad = [
        '',
        'abc',
        '1',
        '1-2-3',
        '01-0',
        '1-01',
        ' 1-0',
        '1-0\n',
        '(1-0',
        '-',
        '+',
        '$',
        '>',
        '*',
        '18446744073709551616-0',
        '1-18446744073709551616',
        '1e3-0',
        '-1-0',
      ];
      for (const id of bad) {
        await expect(f.follow('bad-ids', id).next(), JSON.stringify(id)).rejects.toBeInstanceOf(
          TypeError,
        );
        expect(isStreamId(id)).toBe(false);
      }
      expect(commands).toHaveLength(0);
      expect(isStreamId('18446744073709551615-18446744073709551615')).toBe(true);
      expect(isStreamId('0-0')).toBe(true);
      expect(isStreamId(42)).toBe(false);
      // Topics are bounded too.
      await expect(f.follow('', null).next()).rejects.toBeInstanceOf(TypeError);
      await expect(f.publish('x'.repeat(513), 1)).rejects.toBeInstanceOf(TypeError);
      await expect(f.publish('ok', undefined as unknown as number)).rejects.toBeInstanceOf(
        TypeError,
      );
    });

    it('drops a follower that does not read, with FeedError overflow; others get everything', async () => {
      const { f, live } = watched<number>({ maxBuffered: 10 });
      const slow = f.follow('slow', null);
      const fast = take(f.follow('slow', null), 51);
      const first = slow.next();
      await eventually(async () => expect(f.followers).toBe(2));
      await live('slow');
      await f.publish('slow', 0);
      expect((await first).value).toEqual([expect.any(String), 0]);
      // The slow follower stops reading; 50 more events arrive.
      for (let n = 1; n <= 50; n++) await f.publish('slow', n);
      expect((await fast).map(([, v]) => v)).toEqual([...Array(51).keys()]);
      const error = await slow.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('overflow');
      expect(f.followers).toBe(0);
    });

    it('catches up on a backlog larger than its buffer while events keep coming', async () => {
      const f = feed<number>({ maxBuffered: 16 });
      const ids: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        ids.push(
          ...(await Promise.all(
            Array.from({ length: 150 }, (_, i) => f.publish('backlog', batch * 150 + i)),
          )),
        );
      }
      const publisher = feed<number>();
      const events = take(f.follow('backlog', ids[0]!), 1500 - 1 + 200);
      for (let n = 1500; n < 1700; n++) await publisher.publish('backlog', n);
      const got = await events;
      expect(got.map(([, v]) => v)).toEqual(Array.from({ length: 1699 }, (_, i) => i + 1));
    });

    it('says when a resumed id was trimmed (maxLen), or resumes from the oldest held', async () => {
      const f = feed<number>({ maxLen: 5 });
      const ids: string[] = [];
      // MAXLEN ~ trims whole stream nodes (100 entries by default): 300 events keep about 100.
      for (let n = 0; n < 300; n++) ids.push(await f.publish('trim', n));
      const held = Number(await redis.call('XLEN', `${prefix}trim`));
      expect(held).toBeLessThan(300);
      const error = await f
        .follow('trim', ids[0]!)
        .next()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('trimmed');

      const lenient = feed<number>({ maxLen: 5, onTrimmed: 'resume' });
      const got = await take(lenient.follow('trim', ids[0]!), held);
      expect(got.map(([, v]) => v)).toEqual(Array.from({ length: held }, (_, i) => 300 - held + i));
      // An id still held resumes normally.
      const fine = await take(f.follow('trim', ids[298]!), 1);
      expect(fine.map(([, v]) => v)).toEqual([299]);
      // A topic whose stream is gone (expired, or Redis restarted) cannot vouch for anything.
      const gone = await f
        .follow('never-published', ids[0]!)
        .next()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((gone as FeedError).reason).toBe('trimmed');
    });

    it('gives every stream a TTL, refreshed by each publish', async () => {
      const f = feed<number>({ ttlMs: 60_000 });
      await f.publish('ttl', 1);
      await redis.call('PERSIST', `${prefix}ttl`);
      await f.publish('ttl', 2);
      const ttl = Number(await redis.call('PTTL', `${prefix}ttl`));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('skips an entry it cannot parse, and reports it', async () => {
      const reported: unknown[] = [];
      const { f, live } = watched<number>({ onError: (error) => reported.push(error) });
      const events = take(f.follow('garbage', null), 2);
      await live('garbage');
      await f.publish('garbage', 1);
      await redis.call('XADD', `${prefix}garbage`, '*', 'v', '{not json');
      await f.publish('garbage', 2);
      expect((await events).map(([, v]) => v)).toEqual([1, 2]);
      expect(reported).toHaveLength(1);
      expect(String((reported[0] as Error).message)).toMatch(/cannot read entry/);
    });

    it('uses a custom serializer', async () => {
      const { f, live } = watched<Date>({
        serialize: { stringify: (d) => String(d.getTime()), parse: (t) => new Date(Number(t)) },
      });
      const at = new Date(1_700_000_000_000);
      const events = take(f.follow('dates', null), 1);
      await live('dates');
      await f.publish('dates', at);
      const [[, value]] = (await events) as [[string, Date]];
      expect(value).toBeInstanceOf(Date);
      expect(value.getTime()).toBe(at.getTime());
    });

    it('ends followers on abort and on close; refuses work after close', async () => {
      const f = feed<number>();
      const controller = new AbortController();
      const aborted = take(f.follow('end', null, controller.signal), 10);
      const closed = take(f.follow('end', null), 10);
      await eventually(async () => expect(f.followers).toBe(2));
      controller.abort();
      expect(await aborted).toEqual([]);
      expect(f.followers).toBe(1);
      await f.close();
      expect(await closed).toEqual([]);
      expect(f.followers).toBe(0);
      await expect(f.publish('end', 1)).rejects.toMatchObject({ reason: 'closed' });
      await expect(f.follow('end', null).next()).rejects.toMatchObject({ reason: 'closed' });
      await f.close();
    });

    it('rejects publish with StoreUnavailableError when Redis does not answer', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const dead = new Redis({ host: '127.0.0.1', port, ...REDIS_CLIENT_OPTIONS });
      dead.on('error', () => {});
      // ioredis defaults too: the feed bounds the wait itself.
      const deadDefaults = new Redis({ host: '127.0.0.1', port, lazyConnect: false });
      deadDefaults.on('error', () => {});
      try {
        for (const client of [dead, deadDefaults]) {
          const f = createRedisFeed<number>({ client, commandTimeoutMs: 100, onError: () => {} });
          await expect(f.publish('down', 1)).rejects.toBeInstanceOf(StoreUnavailableError);
          await f.close();
        }
      } finally {
        dead.disconnect();
        deadDefaults.disconnect();
      }
    });

    describe('behind a proxy that stalls', () => {
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

      it('a follower waits through a stall and then gets every event, in order', async () => {
        const f = feed<number>({ client: viaProxy, blockMs: 200, commandTimeoutMs: 100 });
        const direct = feed<number>();
        const marker = await direct.publish('stall', -2);
        const events = take(f.follow('stall', marker), 10);
        await direct.publish('stall', 0);
        proxy.stall();
        try {
          await expect(f.publish('stall', -1)).rejects.toBeInstanceOf(StoreUnavailableError);
          for (let n = 1; n < 10; n++) await direct.publish('stall', n);
          await sleep(1500); // past the stall guard: the reader reconnects at least once
        } finally {
          proxy.resume();
        }
        // The publish that timed out may still have been appended once the stall ended: a
        // timed-out publish is "maybe", which is why it is refused, never retried by the feed.
        const values = (await events).map(([, v]) => v).filter((v) => v !== -1);
        expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].slice(0, values.length));
        expect(values.length).toBeGreaterThanOrEqual(9);
      }, 20_000);
    });
  },
);

describe.skipIf(noServer !== undefined)(
  `the feed when its Redis dies and comes back${noServer ? ` (did not run: ${noServer})` : ''}`,
  () => {
    let port: number;
    let server: ChildProcess | undefined;
    let client: Redis;

    const startServer = async (): Promise<void> => {
      const s = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { cwd: tmpdir(), stdio: 'ignore' },
      );
      s.on('error', () => {});
      server = s;
      await eventually(async () => {
        if (!(await pingRedis(`redis://127.0.0.1:${port}`, 200))) throw new Error('not up');
      });
    };
    const killServer = async (): Promise<void> => {
      const s = server;
      server = undefined;
      if (!s || s.exitCode !== null) return;
      const exited = new Promise((resolve) => s.once('exit', resolve));
      s.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      port = (probe.address() as { port: number }).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      await startServer();
      client = await connectRedis(`redis://127.0.0.1:${port}`);
    });
    afterAll(async () => {
      client?.disconnect();
      await killServer();
    });

    it('publish fails closed while it is down; followers wait, then are told what was lost', async () => {
      const errors: unknown[] = [];
      const r = recording(client);
      const f = createRedisFeed<number>({
        client: r.feedClient,
        prefix: 'p:',
        onError: (e) => errors.push(e),
      });
      const got: number[] = [];
      const ended = (async () => {
        for await (const [, v] of f.follow('outage', null)) got.push(v);
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      await r.live('p:', 'outage');
      await f.publish('outage', 1);
      await f.publish('outage', 2);

      await killServer();
      await expect(f.publish('outage', -1)).rejects.toBeInstanceOf(StoreUnavailableError);
      // A follower that joins during the outage waits as well.
      const late = take(f.follow('outage-late', null), 1);
      await sleep(300);

      await startServer();
      // Redis without persistence came back empty, and the topic starts again at #1: whatever was
      // appended after #2 and before the crash is gone, so the follower is told to reload rather
      // than go on as if nothing was missing. One that follows again gets what comes next.
      await r.live('p:', 'outage', 'outage-late');
      await f.publish('outage', 3);
      const error = await ended;
      expect(got).toEqual([1, 2]);
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).reason).toBe('trimmed');
      const again = take(f.follow('outage', null), 1);
      await r.live('p:', 'outage');
      await f.publish('outage', 4);
      await f.publish('outage-late', 5);
      expect((await again).map(([, v]) => v)).toEqual([4]);
      expect((await late).map(([, v]) => v)).toEqual([5]);
      // The outage was reported, once per outage rather than at every retry.
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.length).toBeLessThan(10);
      await f.close();
    }, 30_000);
  },
);
