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
 * is back, without losing any event still held in the stream.
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
import { GuardError } from '../core/errors.ts';
import { type RedisClientLike, runBounded } from '../store/redis.ts';

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
}

/** The client a feed publishes with: the store's client, plus a way to open the reader. */
export interface RedisFeedClient extends RedisClientLike {
  /**
   * A new connection with the same options (ioredis `duplicate()`). A blocking read holds its
   * connection, so it cannot share the client that publishes and serves the store.
   */
  duplicate?(): RedisFeedReader;
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
   * read is interrupted with `CLIENT UNBLOCK`); where ACLs forbid that, it joins within `blockMs`.
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

/** Why a follower ended with an error. */
export type FeedErrorReason = 'overflow' | 'trimmed' | 'closed';

/** A follower's (or a closed feed's) failure; `reason` says which. */
export class FeedError extends GuardError {
  /** `overflow`: the follower did not read; `trimmed`: its last id is no longer held; `closed`. */
  readonly reason: FeedErrorReason;
  /** The topic followed. */
  readonly topic: string;

  /** Why the follower of `topic` ended. */
  constructor(reason: FeedErrorReason, topic: string, message: string) {
    super('ERR_WSGUARD_FEED', message);
    this.name = 'FeedError';
    this.reason = reason;
    this.topic = topic;
  }
}

/** A cross-instance, ordered, resumable event feed. */
export interface RedisFeed<T> {
  /**
   * Append `value` to `topic` and return its id (a Redis stream id, `<ms>-<seq>`). Rejects with
   * `StoreUnavailableError` within `commandTimeoutMs` when Redis cannot answer; a publish
   * that timed out may still have been appended, so a retry can deliver the value twice.
   */
  publish(topic: string, value: T): Promise<string>;
  /**
   * Events of `topic` after `lastEventId` (exclusive), then live ones, in order and without
   * duplicates, until `signal` aborts or the feed closes. `lastEventId`:
   * - `null`: from now (only events published after the call);
   * - `'0-0'`: every event still held, then live;
   * - an id this feed returned: the events after it. An id not of the form `\d+-\d+` (a client's
   *   garbage) is refused with `TypeError`, never sent to Redis; validate client input with
   *   {@link isStreamId} to answer it with a 400.
   *
   * Fails with {@link FeedError} on `overflow` and, by default, `trimmed`.
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

const MAX_U64 = 18_446_744_073_709_551_615n;
// Canonical ids only (no leading zeros), so that ids compare as digit strings.
const ID_RE = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;
const MAX_TOPIC = 512;
const PAGE = 512;

/**
 * Whether `value` is a stream id a client may resume from (`<ms>-<seq>`, each a canonical
 * unsigned 64-bit integer). Use it in the input schema of a subscription.
 *
 * @example
 * ```ts
 * z.object({ room: Room, lastEventId: z.string().refine(isStreamId).nullish() })
 * ```
 */
export function isStreamId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = ID_RE.exec(value);
  return m !== null && BigInt(m[1]!) <= MAX_U64 && BigInt(m[2]!) <= MAX_U64;
}

function comparePart(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of two canonical stream ids, without BigInt on the fan-out path. */
function compareIds(a: string, b: string): number {
  const i = a.indexOf('-');
  const j = b.indexOf('-');
  return comparePart(a.slice(0, i), b.slice(0, j)) || comparePart(a.slice(i + 1), b.slice(j + 1));
}

interface RawEntry {
  readonly id: string;
  readonly text: string | undefined;
}

interface Entry<T> {
  readonly id: string;
  readonly value: T;
}

function rawEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: RawEntry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item)) continue;
    const [id, fields] = item as [unknown, unknown];
    if (typeof id !== 'string') continue;
    let text: string | undefined;
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (String(fields[i]) === 'v') {
          text = String(fields[i + 1]);
          break;
        }
      }
    }
    out.push({ id, text });
  }
  return out;
}

/** One `follow` call: a bounded queue of live events and a way to wake its loop. */
class Follower<T> {
  readonly #queue: Entry<T>[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  /** While catching up, an overflow drops the queue and asks for one more `XRANGE` instead. */
  catchingUp = true;
  overflowed = false;
  ended = false;
  error: FeedError | undefined;

  constructor(
    readonly topic: string,
    readonly max: number,
  ) {}

  get size(): number {
    return this.#queue.length - this.#head;
  }

  push(entry: Entry<T>): void {
    if (this.ended || this.error) return;
    if (this.size >= this.max) {
      this.#clear();
      if (this.catchingUp) {
        // Still reading the backlog with XRANGE: what is dropped here is read again from Redis.
        this.overflowed = true;
        return;
      }
      this.error = new FeedError(
        'overflow',
        this.topic,
        `follower of "${this.topic}" did not read ${this.max} events; resume from its last id`,
      );
    } else {
      this.#queue.push(entry);
    }
    this.#notify();
  }

  shift(): Entry<T> | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const entry = this.#queue[this.#head++];
    if (this.#head > 256 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return entry;
  }

  end(): void {
    this.ended = true;
    this.#clear();
    this.#notify();
  }

  /** Resolves at the next push, end or error (one waiter: a follower's loop is sequential). */
  park(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #clear(): void {
    this.#queue.length = 0;
    this.#head = 0;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

interface Topic<T> {
  readonly key: string;
  /** Id of the last event fanned out; `undefined` until read from Redis (`XREVRANGE`). */
  cursor: string | undefined;
  readonly followers: Set<Follower<T>>;
  /** Resolves with the first cursor, or `undefined` when the topic was dropped or the feed closed. */
  ready: Promise<string | undefined>;
}

const defaultSerializer: FeedSerializer<never> = {
  stringify: (value) => JSON.stringify(value),
  parse: (text) => JSON.parse(text) as never,
};

function positiveInt(name: string, value: number, allowZero = false): number {
  if (!(Number.isSafeInteger(value) && (value > 0 || (allowZero && value === 0)))) {
    throw new TypeError(`createRedisFeed: \`${name}\` must be a positive integer, got ${value}`);
  }
  return value;
}

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
  readonly #client: RedisFeedClient;
  readonly #prefix: string;
  readonly #maxLen: number;
  readonly #ttlMs: number;
  readonly #blockMs: number;
  readonly #timeoutMs: number;
  readonly #maxBuffered: number;
  readonly #serializer: FeedSerializer<T>;
  readonly #throwOnTrim: boolean;
  readonly #onError: (error: unknown) => void;
  readonly #topics = new Map<string, Topic<T>>();
  readonly #closing = new AbortController();
  #reader: RedisFeedReader | undefined;
  readonly #ownsReader: boolean;
  #loop: Promise<void> | undefined;
  /** The reader's `CLIENT ID`, to interrupt its blocked read; unknown after any reader error. */
  #readerId: unknown;
  /** False once `CLIENT ID` fails while reads succeed (ACLs): new topics then wait for `blockMs`. */
  #canUnblock = true;
  /** Generation of the `XREAD` in flight (0: none), and the one a new topic wants interrupted. */
  #inflight = 0;
  #generation = 0;
  #wantUnblock = 0;
  #unblocking = false;
  /** Wakes a reader loop that waits for a topic's first cursor. */
  #poke: (() => void) | undefined;
  /** Set during an outage, so each outage is reported once, not at every retry. */
  #failing = false;
  #followers = 0;

  constructor(options: RedisFeedOptions<T>, client: RedisFeedClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#maxLen = positiveInt('maxLen', options.maxLen ?? 10_000);
    this.#ttlMs = positiveInt('ttlMs', options.ttlMs ?? 86_400_000, true);
    this.#blockMs = positiveInt('blockMs', options.blockMs ?? 1000);
    this.#timeoutMs = positiveInt('commandTimeoutMs', options.commandTimeoutMs ?? 250);
    this.#maxBuffered = positiveInt('maxBuffered', options.maxBuffered ?? 1024);
    this.#serializer = options.serialize ?? (defaultSerializer as FeedSerializer<T>);
    this.#throwOnTrim = (options.onTrimmed ?? 'throw') === 'throw';
    this.#onError =
      options.onError ??
      ((error: unknown) => {
        console.error('[wsguard] feed:', error);
      });
    this.#reader = options.reader;
    this.#ownsReader = options.reader === undefined;
  }

  get followers(): number {
    return this.#followers;
  }

  get topics(): number {
    return this.#topics.size;
  }

  publish(topic: string, value: T): Promise<string> {
    let key: string;
    let text: string;
    try {
      if (this.#closing.signal.aborted) throw this.#closedError(topic);
      key = this.#key(topic);
      text = this.#serializer.stringify(value);
      if (typeof text !== 'string') throw new TypeError('feed: the value serialized to nothing');
    } catch (error) {
      return Promise.reject(error);
    }
    return runBounded('redis feed: publish', this.#timeoutMs, async () => {
      const id = this.#client.call('XADD', key, 'MAXLEN', '~', this.#maxLen, '*', 'v', text);
      if (this.#ttlMs > 0) {
        // Sent right behind XADD on the same connection, so it finds the stream. Not awaited as
        // part of the result: the event is already published, and a lost PEXPIRE is set again by
        // the next publish to the topic.
        this.#client.call('PEXPIRE', key, this.#ttlMs).catch(() => {});
      }
      return String(await id);
    });
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
    if (this.#closing.signal.aborted) throw this.#closedError(topic);
    if (signal?.aborted) return;
    const f = new Follower<T>(topic, this.#maxBuffered);
    // Registered before anything is read, so every event fanned out from now on is queued for it;
    // what was appended earlier comes from XRANGE. Ids remove the overlap of the two.
    const t = this.#register(key, f);
    const startedAt = t.cursor;
    const onAbort = (): void => f.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const first = startedAt ?? (await this.#until(f, t.ready));
      if (first === undefined || f.ended) return;
      let cursor = lastEventId ?? first;
      if (lastEventId !== null) {
        // Catch up. Each page is asked after the overflow flag is cleared, so events dropped from
        // the queue while a page was in flight are read by the next page.
        let checkGap = lastEventId !== '0-0';
        for (;;) {
          f.overflowed = false;
          const start = checkGap ? lastEventId : `(${cursor}`;
          const page = await this.#read(f, 'XRANGE', key, start, '+', 'COUNT', PAGE);
          if (page === undefined) return;
          let entries = page;
          if (checkGap) {
            checkGap = false;
            if (entries[0]?.id === lastEventId) entries = entries.slice(1);
            else if (await this.#trimmedAfter(f, key, lastEventId)) {
              if (f.ended) return;
              if (this.#throwOnTrim) {
                throw new FeedError(
                  'trimmed',
                  topic,
                  `events of "${topic}" after ${lastEventId} are no longer held; reload and follow from null`,
                );
              }
            }
          }
          for (const raw of entries) {
            cursor = raw.id;
            const value = this.#decode(raw, key);
            if (value !== undefined) yield [raw.id, value.value];
            if (f.ended) return;
          }
          if (page.length < PAGE && !f.overflowed) break;
        }
      }
      f.catchingUp = false;
      for (;;) {
        const entry = f.shift();
        if (entry !== undefined) {
          if (compareIds(entry.id, cursor) > 0) {
            cursor = entry.id;
            yield [entry.id, entry.value];
          }
          continue;
        }
        if (f.error) throw f.error;
        if (f.ended) return;
        await f.park();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#unregister(key, t, f);
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    for (const t of this.#topics.values()) for (const f of t.followers) f.end();
    this.#topics.clear();
    this.#poke?.();
    const reader = this.#reader;
    if (reader && this.#ownsReader) {
      // Rejects the blocked XREAD at once; the loop sees the feed closed and stops.
      if (reader.disconnect) reader.disconnect();
      else await reader.quit?.().catch(() => {});
    } else {
      this.#interrupt();
    }
    await this.#loop;
  }

  // ---- topics and followers -----------------------------------------------------------------

  #key(topic: string): string {
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC) {
      throw new TypeError(`feed: topic must be a string of 1 to ${MAX_TOPIC} characters`);
    }
    return this.#prefix + topic;
  }

  #closedError(topic: string): FeedError {
    return new FeedError('closed', topic, 'feed closed');
  }

  #register(key: string, f: Follower<T>): Topic<T> {
    let t = this.#topics.get(key);
    if (t === undefined) {
      const topic: Topic<T> = {
        key,
        cursor: undefined,
        followers: new Set(),
        ready: Promise.resolve(undefined),
      };
      // In the map first: the init loop runs only while the topic is followed.
      this.#topics.set(key, topic);
      topic.ready = this.#initCursor(topic);
      t = topic;
    }
    t.followers.add(f);
    this.#followers++;
    return t;
  }

  #unregister(key: string, t: Topic<T>, f: Follower<T>): void {
    f.end();
    if (!t.followers.delete(f)) return;
    this.#followers--;
    // The blocked read may still name the key until it returns; its events are then ignored.
    if (t.followers.size === 0 && this.#topics.get(key) === t) this.#topics.delete(key);
  }

  /**
   * A new topic's reader cursor is the stream's last id at this moment: live events are those
   * after it. Retried while Redis is down, as long as someone follows the topic.
   */
  async #initCursor(t: Topic<T>): Promise<string | undefined> {
    let delay = 50;
    while (this.#topics.get(t.key) === t && !this.#closing.signal.aborted) {
      try {
        const reply = await runBounded('redis feed: XREVRANGE', this.#timeoutMs, () =>
          this.#client.call('XREVRANGE', t.key, '+', '-', 'COUNT', 1),
        );
        this.#recovered();
        t.cursor = rawEntries(reply)[0]?.id ?? '0-0';
        this.#startReader();
        return t.cursor;
      } catch (error) {
        this.#failed(error);
        await this.#sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
    return undefined;
  }

  /** Waits for `promise`; `undefined` when the follower ends first (abort, close). */
  async #until<V>(f: Follower<T>, promise: Promise<V>): Promise<V | undefined> {
    let done = false;
    let value: V | undefined;
    const settled = promise.then((v) => {
      done = true;
      value = v;
    });
    while (!done && !f.ended) await Promise.race([settled, f.park()]);
    return f.ended ? undefined : value;
  }

  /** True when the stream no longer holds `lastId` and holds nothing at or before it. */
  async #trimmedAfter(f: Follower<T>, key: string, lastId: string): Promise<boolean> {
    const oldest = await this.#read(f, 'XRANGE', key, '-', '+', 'COUNT', 1);
    if (oldest === undefined) return false;
    const first = oldest[0];
    return first === undefined || compareIds(first.id, lastId) > 0;
  }

  /** A catch-up read, retried (with back-off) while Redis is unavailable; `undefined` once ended. */
  async #read(
    f: Follower<T>,
    ...args: [string, ...(string | number)[]]
  ): Promise<RawEntry[] | undefined> {
    let delay = 50;
    for (;;) {
      if (f.ended) return undefined;
      try {
        const reply = await runBounded(`redis feed: ${args[0]}`, this.#timeoutMs, () =>
          this.#client.call(...args),
        );
        this.#recovered();
        return rawEntries(reply);
      } catch (error) {
        // A key of another type under the prefix is a configuration error: retrying cannot help.
        const cause = (error as { cause?: unknown }).cause;
        if (cause instanceof Error && cause.message.startsWith('WRONGTYPE')) throw cause;
        this.#failed(error);
      }
      await Promise.race([this.#sleep(delay), f.park()]);
      delay = Math.min(delay * 2, 1000);
    }
  }

  #decode(raw: RawEntry, key: string): { value: T } | undefined {
    if (raw.text === undefined) return undefined;
    try {
      return { value: this.#serializer.parse(raw.text) };
    } catch (error) {
      this.#report(new Error(`feed: cannot read entry ${raw.id} of ${key}`, { cause: error }));
      return undefined;
    }
  }

  // ---- the reader loop ----------------------------------------------------------------------

  #startReader(): void {
    if (this.#closing.signal.aborted) return;
    if (this.#loop !== undefined) {
      this.#poke?.();
      this.#interrupt();
      return;
    }
    this.#loop = this.#runReader()
      .catch((error: unknown) => this.#report(error))
      .finally(() => {
        this.#loop = undefined;
        // A topic may have arrived while the loop was ending.
        if (this.#topics.size > 0) this.#startReader();
      });
  }

  #getReader(): RedisFeedReader {
    if (this.#reader === undefined) {
      const reader = this.#client.duplicate!();
      // ioredis prints connection errors that nobody listens to; the loop reports its own.
      reader.on?.('error', () => {});
      this.#reader = reader;
    }
    return this.#reader;
  }

  async #runReader(): Promise<void> {
    let delay = 50;
    while (!this.#closing.signal.aborted && this.#topics.size > 0) {
      try {
        const reader = this.#getReader();
        await this.#whenReady(reader);
        if (this.#readerId === undefined && this.#canUnblock) {
          this.#readerId = await runBounded('redis feed: CLIENT ID', this.#timeoutMs, () =>
            reader.call('CLIENT', 'ID'),
          ).catch((error: unknown) => {
            // Refused by Redis (ACLs, a proxy without CLIENT): new topics wait for blockMs.
            // Any other failure (connection) is retried with the read.
            const cause = (error as { cause?: unknown }).cause;
            if (cause instanceof Error && /^(NOPERM|ERR)/.test(cause.message)) {
              this.#canUnblock = false;
            }
            return undefined;
          });
        }
        const keys: string[] = [];
        const ids: string[] = [];
        for (const t of this.#topics.values()) {
          if (t.cursor === undefined) continue;
          keys.push(t.key);
          ids.push(t.cursor);
        }
        if (keys.length === 0) {
          // Checked again here: the feed may have closed, or its last topic gone, while this loop
          // waited above, and nothing would wake it from the wait below.
          if (this.#closing.signal.aborted || this.#topics.size === 0) break;
          // Every topic is still reading its first cursor: wait for one (or for close).
          await new Promise<void>((resolve) => {
            this.#poke = resolve;
          });
          this.#poke = undefined;
          continue;
        }
        const generation = ++this.#generation;
        this.#inflight = generation;
        const reply = await this.#blockingRead(reader, keys, ids);
        this.#inflight = 0;
        this.#recovered();
        delay = 50;
        this.#dispatch(reply, keys, ids);
      } catch (error) {
        this.#inflight = 0;
        this.#readerId = undefined;
        if (this.#closing.signal.aborted) break;
        this.#failed(error);
        await this.#sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /**
   * A connection that is (re)connecting refuses commands while the offline queue is off (as
   * `REDIS_CLIENT_OPTIONS` sets it): wait for it, at most a second, rather than fail and report.
   */
  async #whenReady(reader: RedisFeedReader): Promise<void> {
    if (reader.status === undefined || reader.status === 'ready' || !reader.once) return;
    const signal = this.#closing.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        reader.off?.('ready', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      reader.once?.('ready', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * One `XREAD BLOCK`. A read that outlives its block time by far is on a connection that
   * stalled (Redis or the path to it silent): the connection is dropped and opened again, which
   * rejects the read, rather than waiting on TCP for minutes.
   */
  async #blockingRead(
    reader: RedisFeedReader,
    keys: readonly string[],
    ids: readonly string[],
  ): Promise<unknown> {
    const stall = setTimeout(
      () => reader.disconnect?.(true),
      this.#blockMs + Math.max(1000, 4 * this.#timeoutMs),
    );
    try {
      return await reader.call(
        'XREAD',
        'COUNT',
        // One read never holds more than a follower may buffer: only a follower that lags behind
        // by `maxBuffered` events overflows, not one that was handed a large batch at once.
        Math.min(PAGE, this.#maxBuffered),
        'BLOCK',
        this.#blockMs,
        'STREAMS',
        ...keys,
        ...ids,
      );
    } finally {
      clearTimeout(stall);
    }
  }

  #dispatch(reply: unknown, keys: readonly string[], ids: readonly string[]): void {
    if (!Array.isArray(reply)) return;
    const sent = new Map<string, string>();
    for (let i = 0; i < keys.length; i++) sent.set(keys[i]!, ids[i]!);
    for (const stream of reply) {
      if (!Array.isArray(stream)) continue;
      const key = String(stream[0]);
      const t = this.#topics.get(key);
      // Dropped, or dropped and followed again with a new cursor while the read was in flight:
      // its entries are read again from the right cursor on the next round.
      if (t === undefined || t.cursor !== sent.get(key)) continue;
      for (const raw of rawEntries(stream[1])) {
        if (compareIds(raw.id, t.cursor!) <= 0) continue;
        t.cursor = raw.id;
        const decoded = this.#decode(raw, key);
        if (decoded === undefined) continue;
        // One decoded value shared by every follower of the topic: treat it as read-only.
        const entry: Entry<T> = { id: raw.id, value: decoded.value };
        for (const f of t.followers) f.push(entry);
      }
    }
  }

  /**
   * A topic joined while the read is blocked: interrupt the read (`CLIENT UNBLOCK` from the other
   * connection) so the next one includes it. An UNBLOCK that reaches Redis before the XREAD does
   * finds nothing to unblock; it is retried briefly while that same read is still in flight.
   */
  #interrupt(): void {
    if (this.#inflight === 0) return;
    this.#wantUnblock = this.#inflight;
    if (this.#unblocking || !this.#canUnblock) return;
    this.#unblocking = true;
    void (async () => {
      try {
        for (let attempt = 0; attempt < 20; attempt++) {
          const generation = this.#inflight;
          const id = this.#readerId;
          if (generation === 0 || generation !== this.#wantUnblock || id === undefined) return;
          const n = await runBounded('redis feed: CLIENT UNBLOCK', this.#timeoutMs, () =>
            this.#client.call('CLIENT', 'UNBLOCK', id as number),
          );
          if (Number(n) === 1) return;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } catch {
        // Redis down or ACLs: the read ends by itself within blockMs.
      } finally {
        this.#unblocking = false;
        if (this.#inflight !== 0 && this.#wantUnblock === this.#inflight) this.#interrupt();
      }
    })();
  }

  // ---- helpers ------------------------------------------------------------------------------

  #sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #failed(error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#report(error);
  }

  #recovered(): void {
    this.#failing = false;
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A failing error handler must not stop the reader.
    }
  }
}
