/**
 * A subscription whose feed follower fails tells the client which of the two cases it is, with a
 * stable code: "resume" (the follower fell behind; the events are still held) or "reload" (the
 * events after the client's last id are gone). `feedResumeLink` resubscribes from the last id on
 * the first and hands the second to the app. Real Redis, the real bridge behind the Node adapter,
 * the real `@trpc/client` through `wsguard/client`.
 */
import { createTRPCClient, TRPCClientError, wsLink } from '@trpc/client';
import { initTRPC, tracked } from '@trpc/server';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import {
  createGuardedWSClient,
  FeedErrorCode,
  feedErrorCode,
  feedResumeLink,
} from '../../src/client.ts';
import { createRedisFeed, type RedisFeed } from '../../src/feed/redis-feed.ts';
import { isStreamId } from '../../src/feed/stream-id.ts';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';
import type { GuardedContext } from '../../src/trpc.ts';
import {
  announceSkip,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
} from '../store/redis-env.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from './serve-bridge.ts';

const skip = await redisSkipReason();
announceSkip('tests/trpc/feed-errors.test.ts', skip);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function makeRouter(feed: RedisFeed<{ n: number }>) {
  const t = initTRPC.context<GuardedContext>().create();
  return t.router({
    events: t.procedure
      .input(
        z.object({
          topic: z.string(),
          slowMs: z.number().int().min(0).max(50),
          lastEventId: z.string().refine(isStreamId).nullish(),
        }),
      )
      .subscription(async function* ({ input, signal }) {
        for await (const [id, value] of feed.follow(
          input.topic,
          input.lastEventId ?? null,
          signal,
        )) {
          // A subscriber that handles each event slowly: its follower's queue fills.
          if (input.slowMs > 0) await sleep(input.slowMs);
          yield tracked(id, value);
        }
      }),
  });
}
type Router = ReturnType<typeof makeRouter>;

describe.skipIf(skip)('feed failures reach the client with a stable code', () => {
  let redis: Redis;
  let prefix: string;
  let feed: RedisFeed<{ n: number }>;
  let served: ServedBridge;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS);
    prefix = uniquePrefix('feed-errors');
    // A small buffer and a short stream: both failures can be produced with a few hundred events.
    feed = createRedisFeed<{ n: number }>({
      client: redis,
      prefix,
      maxBuffered: 16,
      maxLen: 50,
      onError: () => {},
    });
    served = await serveBridge(testGuard(), { router: makeRouter(feed) });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  afterAll(async () => {
    await served?.close();
    await feed?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });

  async function client(links: 'plain' | 'resume', onReload?: (e: unknown) => void) {
    const token = await sign('alice', ['user']);
    const ws = createGuardedWSClient({
      url: served.wsUrl,
      WebSocket: WebSocket as never,
      getToken: () => token,
      backoff: { baseMs: 10, maxMs: 50 },
    });
    const wsl = wsLink<Router>({ client: ws.client });
    const trpc = createTRPCClient<Router>({
      links: links === 'resume' ? [feedResumeLink({ onReload }), wsl] : [wsl],
    });
    cleanups.push(() => ws.close());
    return trpc;
  }

  /** Publish n = 1..count as fast as Redis takes them. */
  async function publish(topic: string, count: number): Promise<void> {
    for (let n = 1; n <= count; n += 25) {
      const batch: Promise<string>[] = [];
      for (let i = n; i < Math.min(n + 25, count + 1); i++)
        batch.push(feed.publish(topic, { n: i }));
      await Promise.all(batch);
    }
  }

  it('a slow subscriber that overflows is told "resume" (not an internal error)', async () => {
    const topic = `slow-${Date.now()}`;
    const trpc = await client('plain');
    const errors: unknown[] = [];
    let received = 0;
    let started = false;
    const sub = trpc.events.subscribe(
      { topic, slowMs: 10, lastEventId: null },
      {
        onStarted: () => {
          started = true;
        },
        onData: () => {
          received++;
        },
        onError: (e) => errors.push(e),
      },
    );
    cleanups.push(() => sub.unsubscribe());
    await expect.poll(() => started, { timeout: 5000 }).toBe(true);
    await sleep(50);
    await publish(topic, 300);
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(1);
    const error = errors[0] as TRPCClientError<Router>;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.data?.code).toBe('TIMEOUT');
    expect(feedErrorCode(error)).toBe(FeedErrorCode.Resume);
    expect(received).toBeLessThan(300);
  });

  it('feedResumeLink resubscribes from the last id: every event once, in order', async () => {
    const topic = `resume-${Date.now()}`;
    const trpc = await client('resume');
    const seen: number[] = [];
    const errors: unknown[] = [];
    let started = false;
    const sub = trpc.events.subscribe(
      { topic, slowMs: 5, lastEventId: null },
      {
        onStarted: () => {
          started = true;
        },
        onData: (e) => {
          seen.push(e.data.n);
        },
        onError: (e) => errors.push(e),
      },
    );
    cleanups.push(() => sub.unsubscribe());
    await expect.poll(() => started, { timeout: 5000 }).toBe(true);
    await sleep(50);
    // Under maxLen (50) per burst so the resume finds every event still held.
    for (let burst = 0; burst < 6; burst++) {
      const base = burst * 40;
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => feed.publish(topic, { n: base + i + 1 })),
      );
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(base + 40);
    }
    expect(seen).toEqual(Array.from({ length: 240 }, (_, i) => i + 1));
    expect(errors).toEqual([]);
  });

  it('events no longer held are told "reload"; the link hands it to the app', async () => {
    const topic = `trimmed-${Date.now()}`;
    const first = await feed.publish(topic, { n: 0 });
    await publish(topic, 400); // far past maxLen: `first` is trimmed
    const reloads: unknown[] = [];
    const trpc = await client('resume', (e) => reloads.push(e));
    const errors: unknown[] = [];
    const sub = trpc.events.subscribe(
      { topic, slowMs: 0, lastEventId: first },
      { onError: (e) => errors.push(e), onData: () => {} },
    );
    cleanups.push(() => sub.unsubscribe());
    await expect.poll(() => errors.length, { timeout: 5000 }).toBe(1);
    const error = errors[0] as TRPCClientError<Router>;
    expect(error.data?.code).toBe('PRECONDITION_FAILED');
    expect(feedErrorCode(error)).toBe(FeedErrorCode.Reload);
    expect(reloads).toEqual([error]);
  });
});
