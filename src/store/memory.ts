/**
 * The embedded memory store, wsguard's default. Every operation is one synchronous step on plain
 * maps, which is what makes it atomic within a process; it is not shared across processes, so the
 * guard's doctor refuses it where a cluster-wide guarantee is asked for.
 *
 * @module
 */
import { gcraStep, type LimitResult, type RateRule } from '../rate-limit.ts';
import type {
  AcquireLeaseOptions,
  ChannelListener,
  LeaseResult,
  Store,
  StoreSubscription,
  TakenValue,
} from './types.ts';

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Clock in milliseconds; tests pass a fake one.
   * @default Date.now
   */
  readonly now?: () => number;
}

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

interface Score {
  score: number;
  at: number;
  expiresAt: number;
}

/**
 * Create the in-process store.
 *
 * @example
 * ```ts
 * const guard = createGuard({ store: createMemoryStore(), ... });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const store = new MemoryStore(options.now ?? Date.now);
  created.add(store);
  return store;
}

/**
 * Whether `store` is this module's in-process store. The guard uses it to skip the fail-closed
 * wrapper: an in-process map has no outage to fail closed on, and the wrapper costs a promise per
 * operation, five to seven per handshake.
 */
export function isMemoryStore(store: Store): boolean {
  // Identity, not `instanceof`: a wrapper around a memory store (a Proxy, a subclass patched to
  // fail) is someone else's code and keeps the wrapper.
  return created.has(store);
}

const created = new WeakSet<Store>();

class MemoryStore implements Store {
  readonly name = 'memory';
  readonly shared = false;
  readonly #now: () => number;
  readonly #kv = new Map<string, Expiring<string>>();
  readonly #tat = new Map<string, number>();
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #scores = new Map<string, Score>();
  /** Guards sharing this store in one process hear each other's bans through these. */
  readonly #channels = new Map<string, Set<ChannelListener>>();
  #writes = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#kv.set(key, { value, expiresAt: this.#now() + ttlMs });
    this.#tick();
    return Promise.resolve();
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#live(key)?.value);
  }

  delete(key: string): Promise<void> {
    this.#kv.delete(key);
    return Promise.resolve();
  }

  take(key: string): Promise<string | undefined> {
    // Read and delete in the same synchronous turn: no other caller can interleave.
    const entry = this.#live(key);
    this.#kv.delete(key);
    return Promise.resolve(entry?.value);
  }

  takeWithTtl(key: string): Promise<TakenValue | undefined> {
    const entry = this.#live(key);
    this.#kv.delete(key);
    return Promise.resolve(
      entry ? { value: entry.value, ttlMs: entry.expiresAt - this.#now() } : undefined,
    );
  }

  publish(channel: string, message: string): Promise<void> {
    const listeners = this.#channels.get(channel);
    if (listeners) {
      // Delivered on a later turn, as a network broker would: a publisher never re-enters its
      // own listener in the middle of the call that published.
      for (const l of listeners) queueMicrotask(() => l.message(message));
    }
    return Promise.resolve();
  }

  subscribe(channel: string, listener: ChannelListener): StoreSubscription {
    let listeners = this.#channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#channels.set(channel, listeners);
    }
    listeners.add(listener);
    return {
      close: () => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.#channels.get(channel) === listeners)
          this.#channels.delete(channel);
        return Promise.resolve();
      },
    };
  }

  limit(key: string, rule: RateRule, cost = 1): Promise<LimitResult> {
    const now = this.#now();
    const step = gcraStep(this.#tat.get(key) ?? 0, now, rule, cost);
    this.#tat.set(key, step.tat);
    this.#tick();
    return Promise.resolve(step.result);
  }

  acquireLease(
    key: string,
    leaseId: string,
    max: number,
    ttlMs: number,
    options: AcquireLeaseOptions = {},
  ): Promise<LeaseResult> {
    const now = this.#now();
    const set = this.#liveLeases(key, now);
    if (set.has(leaseId)) {
      set.set(leaseId, now + ttlMs);
      return Promise.resolve({ ok: true, count: set.size });
    }
    let evicted: string | undefined;
    if (set.size >= max) {
      if (!options.evictOldest || max < 1) return Promise.resolve({ ok: false, count: set.size });
      // Maps iterate in insertion order, so the first key is the oldest lease.
      evicted = set.keys().next().value;
      if (evicted !== undefined) set.delete(evicted);
    }
    set.set(leaseId, now + ttlMs);
    this.#leases.set(key, set);
    this.#tick();
    return Promise.resolve(
      evicted === undefined
        ? { ok: true, count: set.size }
        : { ok: true, count: set.size, evicted },
    );
  }

  renewLeases(key: string, leaseIds: readonly string[], ttlMs: number): Promise<void> {
    const now = this.#now();
    // Prune first: a renewal must not revive an expired lease whose slot another may now hold.
    const set = this.#leases.has(key) ? this.#liveLeases(key, now) : undefined;
    if (set) {
      const expiresAt = now + ttlMs;
      for (const id of leaseIds) if (set.has(id)) set.set(id, expiresAt);
    }
    return Promise.resolve();
  }

  releaseLease(key: string, leaseId: string): Promise<void> {
    const set = this.#leases.get(key);
    if (set) {
      set.delete(leaseId);
      if (set.size === 0) this.#leases.delete(key);
    }
    return Promise.resolve();
  }

  countLeases(key: string): Promise<number> {
    return Promise.resolve(this.#liveLeases(key, this.#now()).size);
  }

  addScore(key: string, points: number, halfLifeMs: number): Promise<number> {
    const now = this.#now();
    const prev = this.#scores.get(key);
    const decayed =
      prev && prev.expiresAt > now ? prev.score * 0.5 ** ((now - prev.at) / halfLifeMs) : 0;
    const score = decayed + points;
    // Below 1/1024 of a point the score is noise; keep it for ten half-lives at most.
    this.#scores.set(key, { score, at: now, expiresAt: now + halfLifeMs * 10 });
    this.#tick();
    return Promise.resolve(score);
  }

  close(): Promise<void> {
    this.#kv.clear();
    this.#tat.clear();
    this.#leases.clear();
    this.#scores.clear();
    return Promise.resolve();
  }

  #live(key: string): Expiring<string> | undefined {
    const entry = this.#kv.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#kv.delete(key);
      return undefined;
    }
    return entry;
  }

  #liveLeases(key: string, now: number): Map<string, number> {
    const set = this.#leases.get(key) ?? new Map<string, number>();
    for (const [id, expiresAt] of set) if (expiresAt <= now) set.delete(id);
    return set;
  }

  /**
   * Amortised expiry without timers: a full sweep once the writes since the last one reach the
   * number of entries held (at least 4,096), so each write pays O(1) on average at any size.
   */
  #tick(): void {
    if (
      ++this.#writes <
      Math.max(4096, this.#kv.size + this.#tat.size + this.#scores.size + this.#leases.size)
    )
      return;
    this.#writes = 0;
    const now = this.#now();
    for (const [k, e] of this.#kv) if (e.expiresAt <= now) this.#kv.delete(k);
    for (const [k, tat] of this.#tat) if (tat <= now) this.#tat.delete(k);
    for (const [k, s] of this.#scores) if (s.expiresAt <= now) this.#scores.delete(k);
    for (const [k, set] of this.#leases) {
      for (const [id, exp] of set) if (exp <= now) set.delete(id);
      if (set.size === 0) this.#leases.delete(k);
    }
  }
}
