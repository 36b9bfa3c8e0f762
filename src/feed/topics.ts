/**
 * The topics this instance follows, each with its followers and the reader's cursor: the last id
 * fanned out, first read from Redis (`XREVRANGE`) when the topic gains its first follower. A topic
 * lives only while someone follows it, so the blocked read names only followed streams.
 *
 * @module
 */
import { runBounded } from '../store/run-bounded.ts';
import type { FeedContext } from './feed-context.ts';
import type { Follower } from './follower.ts';
import { rawEntries } from './stream-entries.ts';

/** Where a reader stands in a topic: the last entry's id and sequence number. */
export interface Position {
  /** Stream id (`'0-0'` for an empty stream). */
  readonly id: string;
  /** Its sequence number, when known. */
  readonly n: number | undefined;
}

/** A followed topic: its stream key, cursor and followers. */
export interface Topic<T> {
  /** The stream's key (prefix and topic). */
  readonly key: string;
  /** Id of the last event fanned out; `undefined` until read from Redis (`XREVRANGE`). */
  cursor: string | undefined;
  /** Sequence number of the entry at `cursor`, when known: the next one read must be `cursorN + 1`. */
  cursorN: number | undefined;
  /** The followers on this instance. */
  readonly followers: Set<Follower<T>>;
  /** Resolves with the first cursor, or `undefined` when the topic was dropped or the feed closed. */
  ready: Promise<Position | undefined>;
}

/** The followed topics by stream key, and the count of their followers. */
export class Topics<T> {
  /** Topics by stream key; the reader loop reads every one with a cursor. */
  readonly byKey: Map<string, Topic<T>> = new Map();
  readonly #ctx: FeedContext<T>;
  readonly #onCursor: () => void;
  #followers = 0;

  /** Topics of the feed of `ctx`; `onCursor` is called when a topic has its first cursor. */
  constructor(ctx: FeedContext<T>, onCursor: () => void) {
    this.#ctx = ctx;
    this.#onCursor = onCursor;
  }

  /** Followers on this instance, over every topic. */
  get followers(): number {
    return this.#followers;
  }

  /** Add `f` to the topic at `key`, which starts to be followed if it was not. */
  register(key: string, f: Follower<T>): Topic<T> {
    let t = this.byKey.get(key);
    if (t === undefined) {
      const topic: Topic<T> = {
        key,
        cursor: undefined,
        cursorN: undefined,
        followers: new Set(),
        ready: Promise.resolve(undefined),
      };
      // In the map first: the init loop runs only while the topic is followed.
      this.byKey.set(key, topic);
      topic.ready = this.#initCursor(topic);
      t = topic;
    }
    t.followers.add(f);
    this.#followers++;
    return t;
  }

  /** End `f` and remove it from `t`; a topic left without followers is dropped. */
  unregister(key: string, t: Topic<T>, f: Follower<T>): void {
    f.end();
    if (!t.followers.delete(f)) return;
    this.#followers--;
    // The blocked read may still name the key until it returns; its events are then ignored.
    if (t.followers.size === 0 && this.byKey.get(key) === t) this.byKey.delete(key);
  }

  /** End every follower and drop every topic (the feed closes). */
  endAll(): void {
    for (const t of this.byKey.values()) for (const f of t.followers) f.end();
    this.byKey.clear();
  }

  /**
   * A new topic's reader cursor is the stream's last id at this moment: live events are those
   * after it. Retried while Redis is down, as long as someone follows the topic.
   */
  async #initCursor(t: Topic<T>): Promise<Position | undefined> {
    const ctx = this.#ctx;
    let delay = 50;
    while (this.byKey.get(t.key) === t && !ctx.closing.signal.aborted) {
      try {
        const reply = await runBounded('redis feed: XREVRANGE', ctx.timeoutMs, () =>
          ctx.client.call('XREVRANGE', t.key, '+', '-', 'COUNT', 1),
        );
        ctx.recovered();
        const last = rawEntries(reply)[0];
        const position: Position = { id: last?.id ?? '0-0', n: last === undefined ? 0 : last.n };
        t.cursor = position.id;
        t.cursorN = position.n;
        this.#onCursor();
        return position;
      } catch (error) {
        ctx.failed(error);
        await ctx.sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
    return undefined;
  }
}
