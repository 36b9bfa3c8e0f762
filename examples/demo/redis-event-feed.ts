/**
 * The demo's chat on Redis Streams (`createRedisFeed`), when `REDIS_URL` is set: a message
 * published on one instance reaches the followers on every instance, and its id is the stream's,
 * the same on every instance, so a client that resumes on another instance after its own died
 * gets exactly the messages after the last one it saw.
 *
 * It follows the in-memory feed's rules (`event-feed.ts`), so the router and the page need not
 * know: `null` means every event still held (a page joining a room sees its recent history),
 * where the Redis feed's own `null` means "from now". A client's `lastEventId` must be a stream
 * id (`isStreamId`); the router refuses anything else before it reaches Redis.
 */
import { isStreamId, type RedisFeed } from '../../src/redis.ts';
import type { EventFeed } from './event-feed.ts';

/** The Redis Streams feed behind the demo's {@link EventFeed} interface. */
export function redisEventFeed<T>(feed: RedisFeed<T>): EventFeed<T> {
  return {
    publish: (topic, value, options) => feed.publish(topic, value, options),
    // '0-0': every event still held, then live (RedisFeed.follow's own null is "from now").
    follow: (topic, lastEventId, signal) => feed.follow(topic, lastEventId ?? '0-0', signal),
    isEventId: (id) => isStreamId(id),
    close: () => feed.close(),
  };
}
