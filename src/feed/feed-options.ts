/**
 * What a feed is made of: the client it publishes with, the connection its reader loop blocks on,
 * the serializer, and the options that bound it (stream length and TTL, block time, command
 * timeout, a follower's buffer).
 *
 * @module
 */
import type { RedisClientLike } from '../store/redis-client.ts';

/** The connection the feed's reader loop blocks on (an ioredis client fits). */
export interface RedisFeedReader extends RedisClientLike {
  /**
   * Drop the connection; with `true`, connect again (ioredis). The feed uses it to cut a read that
   * stalled (Redis connected but silent) and to close a reader it created.
   */
  disconnect?(reconnect?: boolean): void;
  /** Event listener (ioredis): the feed listens for `'error'` on a reader it created. */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  /** Connection state (ioredis): `'ready'` when commands can be sent. */
  readonly status?: string;
  /** One-time listener (ioredis): the loop waits for `'ready'` rather than fail on a new connection. */
  once?(event: 'ready', listener: () => void): unknown;
  /** Remove a listener (ioredis). */
  off?(event: 'ready', listener: () => void): unknown;
  /**
   * True for an ioredis `Cluster`: a keyless command (`CLIENT ID`, `CLIENT UNBLOCK`) goes to a
   * random node there, so the feed does not interrupt blocked reads (new topics join within
   * `blockMs`).
   */
  readonly isCluster?: boolean;
}

/** The client a feed publishes with: the store's client, plus a way to open the reader. */
export interface RedisFeedClient extends RedisClientLike {
  /**
   * A new connection with the same options (ioredis `duplicate()`). A blocking read holds its
   * connection, so it cannot share the client that publishes and serves the store.
   */
  duplicate?(): RedisFeedReader;
  /** True for an ioredis `Cluster` (see {@link RedisFeedReader.isCluster}). */
  readonly isCluster?: boolean;
}

/**
 * How values are turned into the stream's text and back; `superjson` fits as is.
 * @default JSON
 */
export interface FeedSerializer<T> {
  /** Value to text. */
  stringify(value: T): string;
  /** Text to value; may throw on text it cannot read (the entry is then skipped and reported). */
  parse(text: string): T;
}

/** Options for {@link createRedisFeed}. */
export interface RedisFeedOptions<T> {
  /** A connected client used to publish and to catch up (`XADD`, `XRANGE`). */
  readonly client: RedisFeedClient;
  /**
   * The connection for the live `XREAD BLOCK`. Unset, the feed opens one with
   * `client.duplicate()` and closes it in `close()`; one you pass in is never closed by the feed.
   */
  readonly reader?: RedisFeedReader;
  /**
   * Prefix of the stream keys: topic `t` lives at `<prefix><t>`. On Redis Cluster, put a hash tag
   * in the prefix (`'app:{feed}:'`): one `XREAD` over several streams needs them in one slot.
   * @default 'wsguard:feed:'
   */
  readonly prefix?: string;
  /**
   * Events kept per topic (`XADD MAXLEN ~`, so Redis may keep a few more). A follower resuming
   * from an id older than the oldest kept gets {@link FeedError} `trimmed` (see `onTrimmed`).
   * @default 10000
   */
  readonly maxLen?: number;
  /**
   * A topic's stream expires this long after its last event (refreshed on every publish), so
   * topics nobody writes to any more (old rooms) do not stay in Redis forever. `0` keeps them.
   * @default 86400000 (one day)
   */
  readonly ttlMs?: number;
  /**
   * Longest single `XREAD BLOCK`, in ms. A new topic normally joins the blocked read at once (the
   * read is interrupted with `CLIENT UNBLOCK`); where ACLs forbid that, and on a Redis Cluster,
   * it joins within `blockMs`.
   * @default 1000
   */
  readonly blockMs?: number;
  /**
   * Upper bound in ms on `publish` and on each catch-up read; past it `publish` rejects with
   * `StoreUnavailableError`.
   * @default 250
   */
  readonly commandTimeoutMs?: number;
  /**
   * Live events held for one follower that has not read them yet. Past it the follower fails
   * with {@link FeedError} `overflow` (it may resume from its last id) rather than grow memory.
   * @default 1024
   */
  readonly maxBuffered?: number;
  /**
   * How long a publish's `idempotencyKey` is remembered, in ms: a second publish with the same
   * key to the same topic within it appends nothing and returns the first id. Cover the longest
   * time an app may retry a publish that failed (timed out, connection lost).
   * @default 600000 (ten minutes)
   */
  readonly idempotencyWindowMs?: number;
  /** Value encoding. @default JSON */
  readonly serialize?: FeedSerializer<T>;
  /**
   * A follower resumes from an id that is no longer held (trimmed by `maxLen`, expired by
   * `ttlMs`, lost in a Redis restart without persistence), so events after it may be gone:
   * `'throw'` fails it with {@link FeedError} `trimmed` (the app reloads its state, then follows
   * from `null`); `'resume'` goes on from the oldest event still held.
   * @default 'throw'
   */
  readonly onTrimmed?: 'throw' | 'resume';
  /**
   * Redis errors of the reader loop and of followers' catch-up (reported once per outage, not at
   * every retry), and entries `serialize.parse` could not read.
   * @default console.error
   */
  readonly onError?: (error: unknown) => void;
}

/** Options of one `publish`. */
export interface PublishOptions {
  /**
   * Names this event (an order id, a client's message id; 1 to 200 characters). A publish that
   * failed (`StoreUnavailableError`: timed out, connection lost) may still have been appended:
   * its outcome is unknown, so retry it with the same key, and the feed appends it at most once
   * within `idempotencyWindowMs`, returning the first id.
   */
  readonly idempotencyKey?: string;
}
