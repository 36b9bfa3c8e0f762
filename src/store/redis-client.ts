/**
 * The Redis client as the store and the feed see it: ioredis's generic `call`, typed structurally
 * so wsguard never imports a Redis client, and the ioredis options that make such a client fail
 * fast instead of queueing and replaying commands for seconds.
 *
 * @module
 */

/**
 * The part of a Redis client the store uses: ioredis's generic `call`. Declared structurally so
 * that the core has no runtime dependency on a Redis client (ioredis is an optional peer).
 */
export interface RedisClientLike {
  /** Send one command; resolves with the decoded reply (strings, integers, arrays, `null`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Close the connection; used by `close()` only when the store owns the client. */
  quit?(): Promise<unknown>;
  // A client that also has ioredis's `duplicate()` returning a {@link RedisSubscriberLike} gets
  // the pub/sub channel that carries bans to every instance; without it, bans are polled. Not
  // declared here, so that clients typed with a narrower `duplicate` (the feed's) still fit.
}

/** Shape of {@link REDIS_CLIENT_OPTIONS}. */
export interface RedisClientOptions {
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly enableOfflineQueue: boolean;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly maxRetriesPerRequest: number;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly autoResendUnfulfilledCommands: boolean;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly connectTimeout: number;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly retryStrategy: (attempt: number) => number;
}

/**
 * ioredis options that suit a security store, to spread into `new Redis(url, { ... })`. The store
 * bounds every operation by itself; these settings make the client fail fast and never replay a
 * stale command, instead of queueing it for seconds:
 *
 * - `enableOfflineQueue: false`: while disconnected a command fails at once (a quick 503) instead
 *   of waiting in a queue and running after the caller was already refused, which would burn a
 *   ticket or hold a lease nobody uses. Wait for the client's `ready` event before serving, or
 *   the first handshakes get 503.
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when
 *   the connection drops is rejected, not resent after the reconnect (ioredis's defaults retry it
 *   20 times, about 10 s).
 * - `connectTimeout: 1000`: a host that drops packets is retried every second, not every 10 s.
 * - `retryStrategy`: reconnect forever, at most 1 s apart, so service resumes within about a
 *   second of Redis coming back.
 *
 * Attach an `'error'` listener to the client as well: ioredis reports connection errors as events.
 */
export const REDIS_CLIENT_OPTIONS: RedisClientOptions = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  retryStrategy: (attempt: number): number => Math.min(attempt * 100, 1000),
});
