/**
 * Where the demo keeps what its instances share. Without `REDIS_URL`: nothing shared (the
 * guard's memory store, the chat in this process). With it: one Redis client for the guard's
 * store (`WSGUARD_STORE_PREFIX`) and the chat's feed on Redis Streams (`WSGUARD_FEED_PREFIX`),
 * so every instance of the deployment sees every message, and ids that resume on any instance.
 *
 * The admin panel's audit feed stays in each process, on purpose: it shows the decisions of the
 * instance whose counters (`/ws/stats`) it sits next to, and the guard calls the audit hook for
 * every refusal, refused frames included, which are decided without a store round trip; writing
 * each to Redis would let a flood of bad frames turn into a flood of Redis writes, and an outage
 * of Redis would hide exactly the refusals it causes.
 */
import type { Store } from '../../src/mod.ts';
import { createRedisFeed, createRedisStore, REDIS_CLIENT_OPTIONS } from '../../src/redis.ts';
import type { DemoConfig } from './config.ts';
import type { EventFeed } from './event-feed.ts';
import { redisEventFeed } from './redis-event-feed.ts';
import type { ChatMessage } from './router.ts';

/** The shared parts; each unset part is the in-process default. */
export interface DemoBackend {
  readonly store?: Store;
  readonly chat?: EventFeed<ChatMessage>;
  /** Close the feed (its followers, its reader connection), then the store and its client. */
  close(): Promise<void>;
}

/** Messages kept per room: the in-memory feed's bound, so a page joining sees as much history. */
const CHAT_HISTORY = 500;

/** The Redis store and chat feed when REDIS_URL is set (ioredis is an optional peer dependency). */
export async function backendFor(config: DemoConfig): Promise<DemoBackend> {
  if (!config.redisUrl) return { close: async () => {} };
  const { Redis } = await import('ioredis');
  const client = new Redis(config.redisUrl, REDIS_CLIENT_OPTIONS);
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error(`REDIS_URL: cannot reach ${config.redisUrl}`)));
  });
  const store = createRedisStore({ client, ownsClient: true, prefix: config.storePrefix });
  const feed = createRedisFeed<ChatMessage>({
    client,
    prefix: config.feedPrefix,
    maxLen: CHAT_HISTORY,
  });
  return {
    store,
    chat: redisEventFeed(feed),
    close: async () => {
      await feed.close();
      await store.close?.();
    },
  };
}
