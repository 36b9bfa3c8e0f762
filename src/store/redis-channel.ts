/**
 * The Redis store's pub/sub channel, which carries bans to every instance at once: a second
 * connection (the client's `duplicate()`) in subscriber mode, subscribed again at every
 * (re)connect, and a `resync` after each subscription because messages published meanwhile are
 * lost. A client without `duplicate()` gets no channel, and the guard polls for bans instead.
 *
 * On a Cluster, ioredis moves the subscription to another node by itself when the connection
 * holding it ends, with no event of the Cluster: the store watches which connection that is and,
 * when it changes, subscribes once more (the SUBSCRIBE goes to the new connection, and succeeds
 * once it is live), then resyncs.
 *
 * @module
 */
import type { ChannelListener, StoreSubscription } from './contract.ts';
import type { RedisClientLike } from './redis-client.ts';

/**
 * The part of a second connection the store uses for its pub/sub channel (an ioredis client,
 * which then enters subscriber mode). All optional, so any `duplicate()` type fits; without
 * `subscribe` and `on` the store does not subscribe.
 */
export interface RedisSubscriberLike {
  /** Subscribe to channels. */
  subscribe?(...channels: string[]): Promise<unknown>;
  /** ioredis events used: `ready` (connected, again after a reconnect), `message`, `error`. */
  on?(event: string, listener: (...args: never[]) => void): unknown;
  /** Close the connection. */
  disconnect?(reconnect?: boolean): void;
}

/**
 * Subscribe `listener` to the Redis channel `channel` (already prefixed) on a duplicate of
 * `client`; `undefined` when the client cannot duplicate itself into a subscriber. The
 * subscription is held in `open` until closed, so the store's `close()` can end it.
 */
export function subscribeChannel(
  client: RedisClientLike,
  channel: string,
  listener: ChannelListener,
  open: Set<StoreSubscription>,
): StoreSubscription | undefined {
  const duplicate = (client as { duplicate?: (override?: object) => RedisSubscriberLike })
    .duplicate;
  if (typeof duplicate !== 'function') return undefined;
  // ioredis's own resubscription sends SUBSCRIBE on `ready` without handling its failure: a
  // connection that drops again at that moment rejects unhandled. The store subscribes itself
  // at every `ready`, with a handler, so the client's is turned off.
  // On a Cluster (whose `duplicate` takes startup nodes first) the resubscription is ioredis's
  // own and handles its failure; the store adds its own after a node leaves (see the module).
  const cluster = (client as { isCluster?: unknown }).isCluster === true;
  const dup = cluster
    ? (duplicate as (nodes: unknown[], options: object) => RedisSubscriberLike).call(client, [], {})
    : duplicate.call(client, { autoResubscribe: false });
  if (typeof dup.subscribe !== 'function' || typeof dup.on !== 'function') {
    dup.disconnect?.();
    return undefined;
  }
  const sub = dup as Required<Pick<RedisSubscriberLike, 'subscribe' | 'on'>> & RedisSubscriberLike;
  let closed = false;
  const onReady = () => {
    if (closed) return;
    // SUBSCRIBE is idempotent, so it is sent at every (re)connect whatever the client's own
    // resubscription does; after the first, messages may have been lost meanwhile: resync.
    sub.subscribe(channel).then(
      () => {
        // Every subscription may have missed messages: the first, those published between a
        // connection's admission and this SUBSCRIBE; later ones, those of the interruption.
        listener.resync?.();
      },
      () => {
        // Fails only when the connection dropped again; the next `ready` retries.
      },
    );
  };
  sub.on('ready', onReady as (...args: never[]) => void);
  let moved: ReturnType<typeof setTimeout> | undefined;
  /** Subscribe again until it succeeds (at most a minute), then resync. */
  const afterMove = (attempt: number): void => {
    moved = undefined;
    if (closed) return;
    sub.subscribe(channel).then(
      () => listener.resync?.(),
      () => {
        if (attempt < 120 && !closed) moved = setTimeout(() => afterMove(attempt + 1), 500);
      },
    );
  };
  const watch = cluster ? watchClusterSubscriber(dup, () => afterMove(0)) : undefined;
  sub.on('message', ((ch: string, message: string) => {
    if (ch === channel && !closed) listener.message(message);
  }) as (...args: never[]) => void);
  // ioredis reports connection trouble as events; unheard, it prints them. The store's own
  // commands already fail closed; a lost subscription is made good by `resync`.
  sub.on('error', (() => {}) as (...args: never[]) => void);
  const subscription: StoreSubscription = {
    close: () => {
      closed = true;
      if (moved !== undefined) clearTimeout(moved);
      if (watch !== undefined) clearInterval(watch);
      open.delete(subscription);
      sub.disconnect?.();
      return Promise.resolve();
    },
  };
  open.add(subscription);
  return subscription;
}

/** How often a Cluster's subscriber connection is looked at (no network: a property read). */
const WATCH_MS = 500;

/**
 * Call `moved` whenever ioredis's Cluster puts its subscription on another connection (its
 * `subscriber.getInstance()`, an internal of ioredis 5 read defensively: without it, nothing is
 * watched and only a `ready` of the Cluster resyncs).
 */
function watchClusterSubscriber(
  dup: RedisSubscriberLike,
  moved: () => void,
): ReturnType<typeof setInterval> | undefined {
  const holder = (dup as { subscriber?: { getInstance?: () => unknown } }).subscriber;
  if (typeof holder?.getInstance !== 'function') return undefined;
  let current = holder.getInstance();
  const timer = setInterval(() => {
    const now = holder.getInstance?.();
    if (now === current) return;
    current = now;
    // Also from none to the first: ioredis may move its subscriber again while it learns the
    // Cluster's layout, between two looks; one resync too many costs a few reads.
    if (now != null) moved();
  }, WATCH_MS);
  // A watch must not hold a process open (Node, Bun); Deno's timers have no `unref`.
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
