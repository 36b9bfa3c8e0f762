/**
 * The feed's one live read per instance: a loop that blocks on its own connection
 * (`XREAD BLOCK` over every followed topic, each from its own cursor) and fans what it reads out
 * to the followers in memory, so a thousand followers cost one blocked connection, not a
 * thousand. A new topic interrupts the blocked read (`CLIENT UNBLOCK` from the other connection)
 * so the next read includes it; a read that stalls far past its block time drops its connection.
 *
 * @module
 */
import { runBounded } from '../store/run-bounded.ts';
import type { FeedContext } from './feed-context.ts';
import type { RedisFeedReader } from './feed-options.ts';
import { follows, gapError } from './sequence.ts';
import { type Entry, PAGE, rawEntries } from './stream-entries.ts';
import { compareIds } from './stream-id.ts';
import type { Topics } from './topics.ts';

/** The reader loop of one feed, and the connection it blocks on. */
export class ReaderLoop<T> {
  readonly #ctx: FeedContext<T>;
  readonly #topics: Topics<T>;
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

  /** Reads the topics of `topics` on `reader`, or on a duplicate of the client opened when needed. */
  constructor(ctx: FeedContext<T>, topics: Topics<T>, reader: RedisFeedReader | undefined) {
    this.#ctx = ctx;
    this.#topics = topics;
    this.#reader = reader;
    this.#ownsReader = reader === undefined;
    // On a Redis Cluster, CLIENT ID and CLIENT UNBLOCK carry no key and go to a random node:
    // the id would be of another connection than the one blocked in XREAD, and the UNBLOCK could
    // wake an unrelated client holding the same id on another node. New topics wait for blockMs.
    if (ctx.client.isCluster === true || reader?.isCluster === true) this.#canUnblock = false;
  }

  /** Start the loop, or make the running one read the topics as they are now. */
  start(): void {
    if (this.#ctx.closing.signal.aborted) return;
    if (this.#loop !== undefined) {
      this.#poke?.();
      this.#interrupt();
      return;
    }
    this.#loop = this.#run()
      .catch((error: unknown) => this.#ctx.report(error))
      .finally(() => {
        this.#loop = undefined;
        // A topic may have arrived while the loop was ending.
        if (this.#topics.byKey.size > 0) this.start();
      });
  }

  /** Stop the loop (the feed is closing) and close a reader it opened. */
  async close(): Promise<void> {
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

  #getReader(): RedisFeedReader {
    if (this.#reader === undefined) {
      const reader = this.#ctx.client.duplicate!();
      // ioredis prints connection errors that nobody listens to; the loop reports its own.
      reader.on?.('error', () => {});
      this.#reader = reader;
    }
    return this.#reader;
  }

  async #run(): Promise<void> {
    const ctx = this.#ctx;
    const topics = this.#topics.byKey;
    let delay = 50;
    while (!ctx.closing.signal.aborted && topics.size > 0) {
      try {
        const reader = this.#getReader();
        await this.#whenReady(reader);
        if (this.#readerId === undefined && this.#canUnblock) {
          this.#readerId = await runBounded('redis feed: CLIENT ID', ctx.timeoutMs, () =>
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
        for (const t of topics.values()) {
          if (t.cursor === undefined) continue;
          keys.push(t.key);
          ids.push(t.cursor);
        }
        if (keys.length === 0) {
          // Checked again here: the feed may have closed, or its last topic gone, while this loop
          // waited above, and nothing would wake it from the wait below.
          if (ctx.closing.signal.aborted || topics.size === 0) break;
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
        ctx.recovered();
        delay = 50;
        this.#dispatch(reply, keys, ids);
      } catch (error) {
        this.#inflight = 0;
        this.#readerId = undefined;
        if (ctx.closing.signal.aborted) break;
        ctx.failed(error);
        await ctx.sleep(delay);
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
    const signal = this.#ctx.closing.signal;
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
    const { blockMs, timeoutMs, maxBuffered } = this.#ctx;
    const stall = setTimeout(
      () => reader.disconnect?.(true),
      blockMs + Math.max(1000, 4 * timeoutMs),
    );
    try {
      return await reader.call(
        'XREAD',
        'COUNT',
        // One read never holds more than a follower may buffer: only a follower that lags behind
        // by `maxBuffered` events overflows, not one that was handed a large batch at once.
        Math.min(PAGE, maxBuffered),
        'BLOCK',
        blockMs,
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
      const t = this.#topics.byKey.get(key);
      // Dropped, or dropped and followed again with a new cursor while the read was in flight:
      // its entries are read again from the right cursor on the next round.
      if (t === undefined || t.cursor !== sent.get(key)) continue;
      for (const raw of rawEntries(stream[1])) {
        if (compareIds(raw.id, t.cursor!) <= 0) continue;
        // With 'throw' each follower fails on the gap itself; with 'resume' they step over it,
        // and it is reported here once.
        if (!this.#ctx.throwOnTrim && !follows(t.cursorN, raw.n)) {
          this.#ctx.report(gapError(String(key), t.cursorN!, raw.n!));
        }
        t.cursor = raw.id;
        t.cursorN = raw.n;
        // One entry (and decoded value) shared by every follower of the topic: read-only. An
        // entry that cannot be decoded is queued too, so followers step over it, not see a gap.
        const entry: Entry<T> = { id: raw.id, n: raw.n, decoded: this.#ctx.decode(raw, key) };
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
          const n = await runBounded('redis feed: CLIENT UNBLOCK', this.#ctx.timeoutMs, () =>
            this.#ctx.client.call('CLIENT', 'UNBLOCK', id as number),
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
}
