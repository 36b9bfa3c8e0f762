/**
 * The embedded memory store, wsguard's default. Every operation is one synchronous step on plain
 * maps, which is what makes it atomic within a process; it is not shared across processes, so the
 * guard's doctor refuses it where a cluster-wide guarantee is asked for.
 *
 * **Bounds.** Each kind of state (bans, other values such as tickets, rate states, lease sets,
 * scores) holds at most `maxKeys` keys, so a flood of distinct keys (rotated addresses, forged
 * users) cannot grow the process without limit. A new key past the bound first sweeps expired
 * entries (at most once per quarter of the bound of overflows, so a write costs O(1) amortised);
 * if none were expired, what happens depends on what losing an entry means:
 *
 * - values, rate states and scores evict the least recently written key (every write re-inserts
 *   its key, and maps iterate in insertion order). Evicting lifts a ban, resets a limit or
 *   forgives a score, so the oldest goes: the ban nearest its end, the rate state that has repaid
 *   the most, the score that has decayed the most. Reaching a live key this way takes `maxKeys`
 *   distinct keys written since it was: an attacker with that many addresses is past per-IP
 *   defences anyway. Refusing instead would keep stale state and refuse the newest ban or ticket.
 *   Bans (keys under `ban:`) are bounded apart from other values: anyone with an account can mint
 *   tickets (the guard does not throttle `issueTicket`), and 100,000 of them within a ticket's
 *   70 s would otherwise evict every ban. A ticket flood evicts only older tickets; evicting a
 *   ban takes `maxKeys` newer bans (the oldest, nearest its end at the default length, goes first).
 * - lease sets refuse the new key (`{ ok: false, count: 0 }`, the guard's cap refusal): a lease
 *   is a live connection, and evicting one would under-count a cap. Leases are taken only by
 *   accepted connections, so this binds only with `maxKeys` distinct holders connected at once.
 *
 * @module
 */
import { gcraStep, type LimitResult, type RateRule } from '../core/rate-limit.ts';
import { isOrdered, makeRoom, type SweepClock, sweepClock } from './bounded-map.ts';
import type {
  AcquireLeaseOptions,
  ChannelListener,
  LeaseResult,
  Store,
  StoreSubscription,
  TakenValue,
} from './contract.ts';
import { LeaseSet } from './memory-leases.ts';

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Clock in milliseconds; tests pass a fake one.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * The most keys each kind of state holds (bans, other values, rate states, lease sets, scores),
   * each apart; see the module notes for what happens past it. A key costs 170–300 bytes (measured
   * in tests/unit/store/memory-bounds.test.ts), so the default bounds the store near 125 MiB under
   * any flood; normal use stays far below it.
   * @default 100_000
   */
  readonly maxKeys?: number;
}

/** The default bound per kind of state. */
const DEFAULT_MAX_KEYS = 100_000;

/** The guard's ban keys (`ban:ip:…`, `ban:user:…`, see penalties.ts): bounded apart. */
const BAN_PREFIX = 'ban:';

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
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1)
    throw new TypeError(`createMemoryStore: maxKeys must be a positive integer, got ${maxKeys}`);
  const store = new MemoryStore(options.now ?? Date.now, maxKeys);
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
  /** The guard's bans, held apart from other values: see the module notes. */
  readonly #bans = new Map<string, Expiring<string>>();
  readonly #tat = new Map<string, number>();
  readonly #leases = new Map<string, LeaseSet>();
  readonly #scores = new Map<string, Score>();
  /** Guards sharing this store in one process hear each other's bans through these. */
  readonly #channels = new Map<string, Set<ChannelListener>>();
  #writes = 0;
  readonly #max: number;
  // The first overflow of each map sweeps at once.
  readonly #kvSweep: SweepClock;
  readonly #banSweep: SweepClock;
  readonly #tatSweep: SweepClock;
  readonly #leaseSweep: SweepClock;
  readonly #scoreSweep: SweepClock;

  constructor(now: () => number, maxKeys: number) {
    this.#now = now;
    this.#max = maxKeys;
    this.#kvSweep = sweepClock(maxKeys);
    this.#banSweep = sweepClock(maxKeys);
    this.#tatSweep = sweepClock(maxKeys);
    this.#leaseSweep = sweepClock(maxKeys);
    this.#scoreSweep = sweepClock(maxKeys);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    const now = this.#now();
    const map = this.#values(key);
    if (this.#ordered(map) && !map.delete(key))
      this.#room(map, map === this.#bans ? this.#banSweep : this.#kvSweep, now, kvExpired, true);
    map.set(key, { value, expiresAt: now + ttlMs });
    this.#tick();
    return Promise.resolve();
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#live(key)?.value);
  }

  delete(key: string): Promise<void> {
    this.#values(key).delete(key);
    return Promise.resolve();
  }

  take(key: string): Promise<string | undefined> {
    // Read and delete in the same synchronous turn: no other caller can interleave.
    const entry = this.#live(key);
    this.#values(key).delete(key);
    return Promise.resolve(entry?.value);
  }

  takeWithTtl(key: string): Promise<TakenValue | undefined> {
    const entry = this.#live(key);
    this.#values(key).delete(key);
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
    // As on a network store: what was published before this subscription is not heard, so the
    // listener re-reads the state it cares about once.
    queueMicrotask(() => {
      if (listeners.has(listener)) listener.resync?.();
    });
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
    const prev = this.#tat.get(key);
    const step = gcraStep(prev ?? 0, now, rule, cost);
    if (prev === undefined) this.#room(this.#tat, this.#tatSweep, now, tatExpired, true);
    else if (this.#ordered(this.#tat)) this.#tat.delete(key);
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
    const held = this.#leases.has(key);
    // A new holder past the bound: refused, never evicting a live lease (see the module notes).
    if (!held && !this.#room(this.#leases, this.#leaseSweep, now, leasesExpired, false))
      return Promise.resolve({ ok: false, count: 0 });
    const set = this.#liveLeases(key, now);
    if (set.has(leaseId)) {
      set.set(leaseId, now + ttlMs);
      return Promise.resolve({ ok: true, count: set.size });
    }
    let evicted: string | undefined;
    if (set.size >= max) {
      if (!options.evictOldest || max < 1) return Promise.resolve({ ok: false, count: set.size });
      // Leases are kept in insertion order: the first is the oldest.
      evicted = set.oldest();
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
    if (prev === undefined) this.#room(this.#scores, this.#scoreSweep, now, scoreExpired, true);
    else if (this.#ordered(this.#scores)) this.#scores.delete(key);
    // Below 1/1024 of a point the score is noise; keep it for ten half-lives at most.
    this.#scores.set(key, { score, at: now, expiresAt: now + halfLifeMs * 10 });
    this.#tick();
    return Promise.resolve(score);
  }

  close(): Promise<void> {
    this.#kv.clear();
    this.#bans.clear();
    this.#tat.clear();
    this.#leases.clear();
    this.#scores.clear();
    return Promise.resolve();
  }

  /** The map a value lives in: bans apart, so that no other kind of write can evict one. */
  #values(key: string): Map<string, Expiring<string>> {
    return key.startsWith(BAN_PREFIX) ? this.#bans : this.#kv;
  }

  #live(key: string): Expiring<string> | undefined {
    const map = this.#values(key);
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Whether a write re-inserts its key (see {@link isOrdered}). */
  #ordered(map: Map<string, unknown>): boolean {
    return isOrdered(map, this.#max);
  }

  /** Room for one new key in `map` (see {@link makeRoom}). */
  #room<V>(
    map: Map<string, V>,
    clock: SweepClock,
    now: number,
    expired: (value: V, now: number) => boolean,
    evict: boolean,
  ): boolean {
    return makeRoom(map, this.#max, clock, now, expired, evict);
  }

  #liveLeases(key: string, now: number): LeaseSet {
    const set = this.#leases.get(key) ?? new LeaseSet();
    set.prune(now);
    return set;
  }

  /**
   * Amortised expiry without timers: a full sweep once the writes since the last one reach the
   * number of entries held (at least 4,096), so each write pays O(1) on average at any size.
   */
  #tick(): void {
    if (
      ++this.#writes <
      Math.max(
        4096,
        this.#kv.size + this.#bans.size + this.#tat.size + this.#scores.size + this.#leases.size,
      )
    )
      return;
    this.#writes = 0;
    const now = this.#now();
    for (const [k, e] of this.#kv) if (kvExpired(e, now)) this.#kv.delete(k);
    for (const [k, e] of this.#bans) if (kvExpired(e, now)) this.#bans.delete(k);
    for (const [k, tat] of this.#tat) if (tatExpired(tat, now)) this.#tat.delete(k);
    for (const [k, s] of this.#scores) if (scoreExpired(s, now)) this.#scores.delete(k);
    for (const [k, set] of this.#leases) if (set.prune(now) === 0) this.#leases.delete(k);
  }
}

const kvExpired = (e: Expiring<string>, now: number): boolean => e.expiresAt <= now;
// A rate state in the past carries nothing: the GCRA step treats it as a fresh key.
const tatExpired = (tat: number, now: number): boolean => tat <= now;
const scoreExpired = (s: Score, now: number): boolean => s.expiresAt <= now;
/** A lease set is expired when all its leases are; pruning the dead ones on the way is harmless. */
function leasesExpired(set: LeaseSet, now: number): boolean {
  return set.prune(now) === 0;
}
