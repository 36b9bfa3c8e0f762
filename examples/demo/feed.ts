/**
 * A bounded, resumable in-memory event log per topic: the demo's chat on one instance (no
 * `REDIS_URL`), and the admin panel's audit feed on every instance. A follower that passes the
 * last id it saw gets every later event still held, then live ones, in order, without duplicates.
 *
 * Ids carry this feed's random epoch (`<epoch>:<seq>`): an id from another process (another
 * instance, or this one before a restart) is not one of ours, and read as a number it would skip
 * this process's first events without a word. Such an id, like any text that is not an id of
 * this feed, follows from the oldest event held: everything here is new to that client.
 */
import type { EventFeed } from './event-feed.ts';

/** A resumable feed, in this process. */
export class Feed<T> implements EventFeed<T> {
  readonly #topics = new Map<string, { seq: number; value: T }[]>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #limit: number;
  readonly #epoch = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  #seq = 0;
  #closed = false;
  /** Idempotency keys seen, per topic, with the id each was published under (bounded). */
  readonly #keys = new Map<string, string>();

  constructor(limitPerTopic = 500) {
    this.#limit = limitPerTopic;
  }

  /** Append an event; resolves with its id (at once: nothing here can fail). */
  publish(
    topic: string,
    value: T,
    options?: { readonly idempotencyKey?: string },
  ): Promise<string> {
    const key =
      options?.idempotencyKey === undefined ? undefined : `${topic}\n${options.idempotencyKey}`;
    const first = key === undefined ? undefined : this.#keys.get(key);
    if (first !== undefined) return Promise.resolve(first);
    const seq = ++this.#seq;
    const list = this.#topics.get(topic) ?? [];
    list.push({ seq, value });
    if (list.length > this.#limit) list.splice(0, list.length - this.#limit);
    this.#topics.set(topic, list);
    this.#wake(topic);
    const id = this.#id(seq);
    if (key !== undefined) {
      // As many keys as events held: a retry comes soon after its first attempt.
      if (this.#keys.size >= this.#limit) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(key, id);
    }
    return Promise.resolve(id);
  }

  /** Any text: one that is not an id of this feed follows from the oldest event held. */
  isEventId(id: string): boolean {
    return typeof id === 'string';
  }

  /** Events after `lastId` (all held events when null), then live ones until `signal` aborts. */
  async *follow(
    topic: string,
    lastId: string | null,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<[string, T]> {
    let last = this.#seqOf(lastId);
    while (!signal?.aborted && !this.#closed) {
      for (const e of this.#topics.get(topic) ?? []) {
        if (e.seq > last) {
          last = e.seq;
          yield [this.#id(e.seq), e.value];
        }
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        const set = this.#waiters.get(topic) ?? new Set<() => void>();
        this.#waiters.set(topic, set);
        // One listener per wait, removed on wake: a long subscription must not pile them up.
        const done = (): void => {
          set.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        set.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Followers return; later publishes are still held (the audit hook may outlive the server). */
  close(): Promise<void> {
    this.#closed = true;
    for (const topic of [...this.#waiters.keys()]) this.#wake(topic);
    return Promise.resolve();
  }

  #id(seq: number): string {
    return `${this.#epoch}:${seq}`;
  }

  /** The sequence number after which to follow: 0 (everything held) for an id not ours. */
  #seqOf(id: string | null): number {
    if (id === null || !id.startsWith(`${this.#epoch}:`)) return 0;
    const seq = Number(id.slice(this.#epoch.length + 1));
    return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
  }

  #wake(topic: string): void {
    const waiters = this.#waiters.get(topic);
    if (!waiters) return;
    this.#waiters.delete(topic);
    for (const w of waiters) w();
  }
}
