/**
 * What the demo's router needs from an event feed, so it does not care where events live: in this
 * process (`feed.ts`, one instance) or in Redis Streams (`redis-event-feed.ts`, every instance
 * of a deployment). Both follow from the same rules, so a page behaves the same on either.
 */

/** A resumable, ordered feed of events per topic. */
export interface EventFeed<T> {
  /**
   * Append `value` to `topic`; resolves with its event id once it is held. A second publish with
   * the same `idempotencyKey` (a retry of one whose outcome was unknown) appends nothing and
   * resolves with the first one's id.
   */
  publish(topic: string, value: T, options?: { readonly idempotencyKey?: string }): Promise<string>;
  /**
   * Events of `topic` after `lastEventId` (every event still held when `null`), then live ones,
   * in order and without duplicates, until `signal` aborts or the feed closes.
   */
  follow(
    topic: string,
    lastEventId: string | null,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<[id: string, value: T]>;
  /**
   * Whether a client's `lastEventId` can be followed from. The router refuses any other with
   * BAD_REQUEST, before `follow` sees it: a client's text is not trusted to be an id.
   */
  isEventId(id: string): boolean;
  /** End every follower and give back what the feed holds open. */
  close(): Promise<void>;
}
