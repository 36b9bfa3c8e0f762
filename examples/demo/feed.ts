/**
 * A bounded, resumable in-memory event log per topic: what `chat.onMessage` and the admin panel
 * follow. Event ids increase per process; a follower that passes the last id it saw gets every
 * later event still held, then live ones, in order, without duplicates.
 */

/** A resumable feed. */
export class Feed<T> {
  readonly #topics = new Map<string, { id: number; value: T }[]>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #limit: number;
  #seq = 0;

  constructor(limitPerTopic = 500) {
    this.#limit = limitPerTopic;
  }

  /** Append an event; returns its id. */
  push(topic: string, value: T): string {
    const id = ++this.#seq;
    const list = this.#topics.get(topic) ?? [];
    list.push({ id, value });
    if (list.length > this.#limit) list.splice(0, list.length - this.#limit);
    this.#topics.set(topic, list);
    const waiters = this.#waiters.get(topic);
    if (waiters) {
      this.#waiters.delete(topic);
      for (const w of waiters) w();
    }
    return String(id);
  }

  /** Events after `lastId` (all held events when null), then live ones until `signal` aborts. */
  async *follow(
    topic: string,
    lastId: string | null,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<[string, T]> {
    let last = lastId === null ? 0 : Number(lastId) || 0;
    while (!signal?.aborted) {
      for (const e of this.#topics.get(topic) ?? []) {
        if (e.id > last) {
          last = e.id;
          yield [String(e.id), e.value];
        }
      }
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
}
