/**
 * The store interface: the atomic operations the guard needs, and nothing else. Every operation
 * that reads and then writes shared state is one atomic step in the store (a synchronous step in
 * memory, one Lua script or GETDEL on Redis), because a get-then-set on a shared store lets two
 * instances both win.
 *
 * @module
 */
import type { LimitResult, RateRule } from '../core/rate-limit.ts';

/** The result of trying to take a slot in a capped set of leases. */
export interface LeaseResult {
  /** Whether the lease was granted. */
  readonly ok: boolean;
  /** Live leases in the set after the call. */
  readonly count: number;
  /** When `evictOldest` made room: the lease id that was removed. */
  readonly evicted?: string;
}

/** Options for {@link Store.acquireLease}. */
export interface AcquireLeaseOptions {
  /** When the set is full, remove the oldest lease instead of refusing (single-session mode). */
  readonly evictOldest?: boolean;
}

/** A value taken with {@link Store.takeWithTtl}, with the time it had left by the store's clock. */
export interface TakenValue {
  /** The value. */
  readonly value: string;
  /** Milliseconds the key had left to live when it was taken, by the store's own clock. */
  readonly ttlMs: number;
}

/** A live subscription to a store channel; {@link Store.subscribe} returns it. */
export interface StoreSubscription {
  /** Stop listening (and release the connection, when the store opened one for it). */
  close(): Promise<void>;
}

/** What a subscriber is told. */
export interface ChannelListener {
  /** A message published on the channel (by any instance, this one included). */
  message(message: string): void;
  /**
   * The subscription was interrupted and is live again: messages published meanwhile were lost,
   * so the listener re-reads whatever state they carried.
   */
  resync?(): void;
}

/**
 * Atomic state for the guard. All methods may reject with {@link StoreUnavailableError} when the
 * backend cannot answer; the guard then fails closed.
 */
export interface Store {
  /** Human-readable name, used in audit events and errors. */
  readonly name: string;
  /**
   * True when several processes share this store (Redis). The guard's doctor uses it: cluster-wide
   * guarantees (tickets redeemed once, caps) need a shared store with atomic operations.
   */
  readonly shared: boolean;
  /** Set `key` to `value` for `ttlMs` milliseconds, replacing any value. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Read `key`, or `undefined` when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Remove `key`. */
  delete(key: string): Promise<void>;
  /** Read and remove `key` in one atomic step: of many concurrent callers, at most one gets it. */
  take(key: string): Promise<string | undefined>;
  /**
   * One atomic rate-limiter step for `key` costing `cost` (default 1). A negative cost gives back
   * what earlier steps took (never past a full bucket) and is always allowed.
   */
  limit(key: string, rule: RateRule, cost?: number): Promise<LimitResult>;
  /**
   * Add `leaseId` to the capped set `key` when it has fewer than `max` live leases. Leases expire
   * after `ttlMs` unless renewed, so the leases of a dead instance are released by time.
   */
  acquireLease(
    key: string,
    leaseId: string,
    max: number,
    ttlMs: number,
    options?: AcquireLeaseOptions,
  ): Promise<LeaseResult>;
  /** Extend the given leases of set `key` by `ttlMs` from now; unknown ids are ignored. */
  renewLeases(key: string, leaseIds: readonly string[], ttlMs: number): Promise<void>;
  /** Remove `leaseId` from set `key`. */
  releaseLease(key: string, leaseId: string): Promise<void>;
  /** Number of live leases in set `key`. */
  countLeases(key: string): Promise<number>;
  /**
   * Add `points` to the score at `key`, which halves every `halfLifeMs`; returns the new score.
   */
  addScore(key: string, points: number, halfLifeMs: number): Promise<number>;
  /**
   * Like {@link Store.take}, and also how long the key had left, judged by the store's clock and
   * not the caller's: an instance whose clock is behind must not accept an expired ticket. Stores
   * without it fall back to the instance's clock (the value carries its expiry).
   */
  takeWithTtl?(key: string): Promise<TakenValue | undefined>;
  /**
   * Publish `message` on `channel` to every instance subscribed on this store (at most once:
   * subscribers that were disconnected are told to {@link ChannelListener.resync}). Bans use it to
   * reach the connections other instances hold.
   */
  publish?(channel: string, message: string): Promise<void>;
  /**
   * Listen to `channel`; see {@link Store.publish}. `undefined` when this store cannot (a Redis
   * client without `duplicate`): the guard then polls for bans instead.
   */
  subscribe?(channel: string, listener: ChannelListener): StoreSubscription | undefined;
  /** Release resources (connections, timers). */
  close?(): Promise<void>;
}
