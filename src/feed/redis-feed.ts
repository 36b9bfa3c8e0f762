/**
 * A resumable event feed shared by every instance, on Redis Streams: an event published on
 * instance A reaches the followers on B and C, in the order Redis appended it, and a follower that
 * reconnects to any instance with the last id it saw gets exactly the events after it.
 *
 * Why Streams and not pub/sub: a pub/sub message reaches whoever is subscribed at that instant
 * and is gone, so a client that is between two instances (reconnecting after a deploy or a lost
 * connection) misses it, and pub/sub has no id to resume from. A stream keeps the last `maxLen`
 * events, and its ids (`<ms>-<seq>`) are ordered across all publishers, which is exactly what a
 * tRPC `tracked()` event id must be for `lastEventId` to work on another instance.
 *
 * How it reads: a follower first catches up with `XRANGE` from its last id, then goes live. Live
 * events are read by ONE loop per feed on its own connection (`XREAD BLOCK` over every topic
 * followed on this instance, each with its own last id) and fanned out in memory, so a thousand
 * subscribers cost one blocked connection, not a thousand. A follower that does not read is
 * bounded: past `maxBuffered` undelivered events it fails with {@link FeedError} (`overflow`),
 * instead of holding memory without limit; it can resume from its last id.
 *
 * Failures: `publish` rejects with `StoreUnavailableError` within `commandTimeoutMs` when
 * Redis cannot answer. Followers do not fail: they wait, retry with back-off, and resume when Redis
 * is back, without losing any event still held in the stream. Every event carries its number in
 * the topic (`n`), so a follower that would miss events (trimmed before it read them) is told
 * with `trimmed` instead; a publish retried with its `idempotencyKey` is appended at most once.
 *
 * @example
 * ```ts
 * const feed = createRedisFeed<ChatMessage>({ client: redis, prefix: 'chat:feed:' });
 * await feed.publish('room-1', { user: 'alice', text: 'hi' });
 * // in a tRPC subscription:
 * for await (const [id, message] of feed.follow(input.room, input.lastEventId ?? null, signal)) {
 *   yield tracked(id, message);
 * }
 * ```
 *
 * @module
 */
import { runBounded } from '../store/run-bounded.ts';
import { catchUp } from './catch-up.ts';
import { FeedContext } from './feed-context.ts';
import { FeedError } from './feed-error.ts';
import type { PublishOptions, RedisFeedClient, RedisFeedOptions } from './feed-options.ts';
import { Follower } from './follower.ts';
import { PUBLISH, recordKey } from './publish-script.ts';
import { ReaderLoop } from './reader-loop.ts';
import { follows, gapError } from './sequence.ts';
import { compareIds, isStreamId } from './stream-id.ts';
import { type Position, Topics } from './topics.ts';

/** A cross-instance, ordered, resumable event feed. */
export interface RedisFeed<T> {
  /**
   * Append `value` to `topic` and return its id (a Redis stream id, `<ms>-<seq>`). Rejects with
   * `StoreUnavailableError` within `commandTimeoutMs` when Redis cannot answer. Such a failure
   * is "unknown", not "not published": the event may have been appended all the same (Redis was
   * slow, the reply was lost). Retry with the same `idempotencyKey` and it is appended at most
   * once; without a key, a retry can deliver the value twice.
   */
  publish(topic: string, value: T, options?: PublishOptions): Promise<string>;
  /**
   * Events of `topic` after `lastEventId` (exclusive), then live ones, in order and without
   * duplicates, until `signal` aborts or the feed closes. `lastEventId`:
   * - `null`: from now (only events published after the call);
   * - `'0-0'`: every event still held, then live;
   * - an id this feed returned: the events after it. An id not of the form `\d+-\d+` (a client's
   *   garbage) is refused with `TypeError`, never sent to Redis; validate client input with
   *   {@link isStreamId} to answer it with a 400.
   *
   * Fails with {@link FeedError} on `overflow` and, by default, `trimmed`: its last id is no
   * longer held, or events it had not got yet were trimmed before it could read them (a frozen
   * instance). It never skips an event silently.
   */
  follow(
    topic: string,
    lastEventId: string | null,
    signal?: AbortSignal,
  ): AsyncGenerator<[id: string, value: T]>;
  /** End every follower (their loops return), stop the reader, close a reader the feed opened. */
  close(): Promise<void>;
  /** Followers on this instance. */
  readonly followers: number;
  /** Topics this instance's reader loop follows. */
  readonly topics: number;
}

// Topics are caller-chosen names; bounded so that a key stays a reasonable size.
const MAX_TOPIC = 512;

/**
 * Create a feed on Redis Streams (Redis 6.2 or later, for exclusive `XRANGE` ranges). Throws
 * `TypeError` on malformed options, or when `client` has no `duplicate()` and no `reader` is given.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 *
 * const redis = new Redis(process.env.REDIS_URL!, REDIS_CLIENT_OPTIONS);
 * redis.on('error', (error) => log.warn({ error }, 'redis'));
 * const feed = createRedisFeed<ChatMessage>({ client: redis, prefix: 'chat:feed:' });
 * ```
 */
export function createRedisFeed<T>(options: RedisFeedOptions<T>): RedisFeed<T> {
  const client = options?.client;
  if (typeof client?.call !== 'function') {
    throw new TypeError(
      'createRedisFeed: `client` must be a Redis client with call(command, ...args), such as ioredis',
    );
  }
  if (options.reader === undefined && typeof client.duplicate !== 'function') {
    throw new TypeError(
      'createRedisFeed: pass `reader` (a second connection), or a client with duplicate() such as ioredis',
    );
  }
  if (options.reader !== undefined && typeof options.reader.call !== 'function') {
    throw new TypeError('createRedisFeed: `reader` must be a Redis client with call()');
  }
  const prefix = options.prefix ?? 'wsguard:feed:';
  if (typeof prefix !== 'string') throw new TypeError('createRedisFeed: `prefix` must be a string');
  if (options.onTrimmed !== undefined && !['throw', 'resume'].includes(options.onTrimmed)) {
    throw new TypeError("createRedisFeed: `onTrimmed` must be 'throw' or 'resume'");
  }
  return new Feed<T>(options, client, prefix);
}

class Feed<T> implements RedisFeed<T> {
  readonly #ctx: FeedContext<T>;
  readonly #prefix: string;
  readonly #topics: Topics<T>;
  readonly #reader: ReaderLoop<T>;

  constructor(options: RedisFeedOptions<T>, client: RedisFeedClient, prefix: string) {
    this.#prefix = prefix;
    this.#ctx = new FeedContext<T>(options, client);
    this.#topics = new Topics<T>(this.#ctx, () => this.#reader.start());
    this.#reader = new ReaderLoop<T>(this.#ctx, this.#topics, options.reader);
  }

  get followers(): number {
    return this.#topics.followers;
  }

  get topics(): number {
    return this.#topics.byKey.size;
  }

  publish(topic: string, value: T, options?: PublishOptions): Promise<string> {
    const ctx = this.#ctx;
    let keys: string[];
    let text: string;
    try {
      if (ctx.closing.signal.aborted) throw this.#closedError(topic);
      const key = this.#key(topic);
      const idempotencyKey = options?.idempotencyKey;
      keys = idempotencyKey === undefined ? [key] : [key, recordKey(key, idempotencyKey)];
      text = ctx.serializer.stringify(value);
      if (typeof text !== 'string') throw new TypeError('feed: the value serialized to nothing');
    } catch (error) {
      return Promise.reject(error);
    }
    return runBounded('redis feed: publish', ctx.timeoutMs, async () =>
      String(
        await ctx.scripts.eval(PUBLISH, keys, [
          ctx.maxLen,
          ctx.ttlMs,
          text,
          ctx.idempotencyWindowMs,
        ]),
      ),
    );
  }

  async *follow(
    topic: string,
    lastEventId: string | null,
    signal?: AbortSignal,
  ): AsyncGenerator<[id: string, value: T]> {
    const key = this.#key(topic);
    if (lastEventId !== null && !isStreamId(lastEventId)) {
      throw new TypeError('feed: lastEventId must be a stream id (<ms>-<seq>) or null');
    }
    if (this.#ctx.closing.signal.aborted) throw this.#closedError(topic);
    if (signal?.aborted) return;
    const f = new Follower<T>(topic, this.#ctx.maxBuffered);
    // Registered before anything is read, so every event fanned out from now on is queued for it;
    // what was appended earlier comes from XRANGE. Ids remove the overlap of the two.
    const t = this.#topics.register(key, f);
    const startedAt: Position | undefined =
      t.cursor === undefined ? undefined : { id: t.cursor, n: t.cursorN };
    const onAbort = (): void => f.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const first = startedAt ?? (await f.until(t.ready));
      if (first === undefined || f.ended) return;
      let at = lastEventId === null ? first : yield* catchUp(this.#ctx, f, key, lastEventId);
      if (at === undefined) return;
      f.catchingUp = false;
      for (;;) {
        const entry = f.shift();
        if (entry !== undefined) {
          if (compareIds(entry.id, at.id) <= 0) continue;
          // The reader read past entries this follower never got (its instance froze while the
          // stream was trimmed): a jump is a reload, never a silent skip. With 'resume' the
          // reader loop reports it, once for every follower.
          if (this.#ctx.throwOnTrim && !follows(at.n, entry.n)) {
            throw gapError(topic, at.n!, entry.n!);
          }
          at = entry;
          if (entry.decoded !== undefined) yield [entry.id, entry.decoded.value];
          continue;
        }
        if (f.error) throw f.error;
        if (f.ended) return;
        await f.park();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#topics.unregister(key, t, f);
    }
  }

  async close(): Promise<void> {
    if (this.#ctx.closing.signal.aborted) return;
    this.#ctx.closing.abort();
    this.#topics.endAll();
    await this.#reader.close();
  }

  #key(topic: string): string {
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC) {
      throw new TypeError(`feed: topic must be a string of 1 to ${MAX_TOPIC} characters`);
    }
    return this.#prefix + topic;
  }

  #closedError(topic: string): FeedError {
    return new FeedError('closed', topic, 'feed closed');
  }
}
