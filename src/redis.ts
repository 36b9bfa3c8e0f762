/**
 * `wsguard/redis`: the store for several instances. Tickets, rate limits, connection caps,
 * penalties and bans held in Redis with atomic operations (GETDEL, Lua by SHA), commands bounded
 * by a timeout so the guard fails closed fast when Redis is down. And `createRedisFeed`: the
 * app's events across instances on Redis Streams, ordered and resumable by `lastEventId`. The
 * Redis client (ioredis, or the one inside unstorage's Redis driver) is yours; wsguard does not
 * import one. And `createUnstorageStore`: the store on any unstorage `Storage`, atomic on
 * unstorage's Redis driver, per process (refused for several instances unless opted in) on others.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { createRedisStore, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';
 *
 * const store = createRedisStore({ client: new Redis(process.env.REDIS_URL!, REDIS_CLIENT_OPTIONS) });
 * const guard = createGuard({ store, requireSharedStore: true, ... });
 * ```
 *
 * @module
 */

export type { FeedErrorReason } from './feed/feed-error.ts';
export { FeedError } from './feed/feed-error.ts';
export type {
  FeedSerializer,
  RedisFeedClient,
  RedisFeedOptions,
  RedisFeedReader,
} from './feed/feed-options.ts';
export type { RedisFeed } from './feed/redis-feed.ts';
export { createRedisFeed } from './feed/redis-feed.ts';
export { isStreamId } from './feed/stream-id.ts';
export type { RedisStoreOptions } from './store/redis.ts';
export { createRedisStore } from './store/redis.ts';
export type { RedisSubscriberLike } from './store/redis-channel.ts';
export type { RedisClientLike, RedisClientOptions } from './store/redis-client.ts';
export { REDIS_CLIENT_OPTIONS } from './store/redis-client.ts';
export type { UnstorageRedisStoreOptions } from './store/redis-unstorage.ts';
export { redisStoreFromUnstorage } from './store/redis-unstorage.ts';
export type { UnstorageStoreOptions } from './store/unstorage.ts';
export { createUnstorageStore } from './store/unstorage.ts';
export type {
  UnstorageDriverLike,
  UnstorageLike,
  UnstorageStorageLike,
} from './store/unstorage-like.ts';
