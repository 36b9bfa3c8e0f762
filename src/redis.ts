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

export type {
  FeedErrorReason,
  FeedSerializer,
  RedisFeed,
  RedisFeedClient,
  RedisFeedOptions,
  RedisFeedReader,
} from './feed/redis-feed.ts';
export { createRedisFeed, FeedError, isStreamId } from './feed/redis-feed.ts';
export type {
  RedisClientLike,
  RedisClientOptions,
  RedisStoreOptions,
  RedisSubscriberLike,
  UnstorageDriverLike,
  UnstorageLike,
  UnstorageRedisStoreOptions,
} from './store/redis.ts';
export { createRedisStore, REDIS_CLIENT_OPTIONS, redisStoreFromUnstorage } from './store/redis.ts';
export type { UnstorageStorageLike, UnstorageStoreOptions } from './store/unstorage.ts';
export { createUnstorageStore } from './store/unstorage.ts';
