/**
 * What every part of one feed shares: its client and validated settings, the signal that says the
 * feed is closing, decoding, and outage reporting (each outage reported once, not at every retry
 * of the reader loop, a catch-up read or a topic's first cursor).
 *
 * @module
 */

import { ScriptRunner } from '../store/redis-script-runner.ts';
import type { FeedSerializer, RedisFeedClient, RedisFeedOptions } from './feed-options.ts';
import type { RawEntry } from './stream-entries.ts';

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

/** One feed's settings and shared runtime. Throws `TypeError` on a malformed number option. */
export class FeedContext<T> {
  /** Publishes, catches up, and interrupts the reader's blocked read. */
  readonly client: RedisFeedClient;
  /** `XADD MAXLEN ~`. */
  readonly maxLen: number;
  /** A topic's stream expires this long after its last event; `0` keeps it. */
  readonly ttlMs: number;
  /** Longest single `XREAD BLOCK`. */
  readonly blockMs: number;
  /** Upper bound on every command but the blocked read. */
  readonly timeoutMs: number;
  /** Live events held for one follower. */
  readonly maxBuffered: number;
  /** How long an idempotency key is remembered. */
  readonly idempotencyWindowMs: number;
  /** The publish script, run by SHA on `client`. */
  readonly scripts: ScriptRunner;
  /** Value encoding. */
  readonly serializer: FeedSerializer<T>;
  /** `onTrimmed: 'throw'`. */
  readonly throwOnTrim: boolean;
  /** Aborted by `close()`: every loop and wait of the feed stops. */
  readonly closing: AbortController = new AbortController();
  readonly #onError: (error: unknown) => void;
  /** Set during an outage, so each outage is reported once, not at every retry. */
  #failing = false;

  /** Settings from `options` (validated in this order), publishing with `client`. */
  constructor(options: RedisFeedOptions<T>, client: RedisFeedClient) {
    this.client = client;
    this.maxLen = positiveInt('maxLen', options.maxLen ?? 10_000);
    this.ttlMs = positiveInt('ttlMs', options.ttlMs ?? 86_400_000, true);
    this.blockMs = positiveInt('blockMs', options.blockMs ?? 1000);
    this.timeoutMs = positiveInt('commandTimeoutMs', options.commandTimeoutMs ?? 250);
    this.maxBuffered = positiveInt('maxBuffered', options.maxBuffered ?? 1024);
    this.idempotencyWindowMs = positiveInt(
      'idempotencyWindowMs',
      options.idempotencyWindowMs ?? 600_000,
    );
    this.scripts = new ScriptRunner(client);
    this.serializer = options.serialize ?? (defaultSerializer as FeedSerializer<T>);
    this.throwOnTrim = (options.onTrimmed ?? 'throw') === 'throw';
    this.#onError =
      options.onError ??
      ((error: unknown) => {
        console.error('[wsguard] feed:', error);
      });
  }

  /** Wait `ms`, or less when the feed closes meanwhile. */
  sleep(ms: number): Promise<void> {
    const signal = this.closing.signal;
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

  /** A Redis command failed: reported if it is the first failure of this outage. */
  failed(error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.report(error);
  }

  /** A Redis command succeeded: the outage, if any, is over. */
  recovered(): void {
    this.#failing = false;
  }

  /** Tell `onError`, which must not stop the caller by throwing. */
  report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A failing error handler must not stop the reader.
    }
  }

  /** The value of an entry of stream `key`; `undefined` (and reported) when it cannot be read. */
  decode(raw: RawEntry, key: string): { readonly value: T } | undefined {
    if (raw.text === undefined) return undefined;
    try {
      return { value: this.serializer.parse(raw.text) };
    } catch (error) {
      this.report(new Error(`feed: cannot read entry ${raw.id} of ${key}`, { cause: error }));
      return undefined;
    }
  }
}
