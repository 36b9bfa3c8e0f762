/**
 * The unstorage store's generic path, for any driver but Redis: every operation over
 * `getItem`/`setItem`/`removeItem`, expiry held in the record (drivers' TTL support varies, so the
 * read-time check decides), each operation serialised per key within this process. Atomic within
 * the process, not across processes: hence `shared: false` unless the app opts in by name.
 *
 * @module
 */
import { StoreUnavailableError } from '../core/errors.ts';
import { gcraStep, type LimitResult, type RateRule } from '../core/rate-limit.ts';
import type { AcquireLeaseOptions, LeaseResult, Store } from './contract.ts';
import { runBounded } from './run-bounded.ts';
import { encodeKey } from './unstorage-keys.ts';
import type { UnstorageStorageLike } from './unstorage-like.ts';
import { locksOf, serialised } from './unstorage-locks.ts';
import {
  isNum,
  isRecord,
  type KvRecord,
  type LeaseRecord,
  malformed,
  type ScoreRecord,
  type TatRecord,
} from './unstorage-records.ts';

/** How many writes between two background sweeps of expired records. */
const SWEEP_EVERY = 10_000;

/** The generic-path store; {@link createUnstorageStore} validates its options. */
export class UnstorageStore implements Store {
  readonly name: string;
  readonly shared: boolean;
  readonly #storage: UnstorageStorageLike;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #locks: Map<string, Promise<void>>;
  #writes = 0;
  #sweeping = false;
  #closed = false;

  /** A store on `storage`, its keys under `prefix` (normalised, ending in `:` unless empty). */
  constructor(
    storage: UnstorageStorageLike,
    prefix: string,
    name: string,
    shared: boolean,
    timeoutMs: number,
    now: () => number,
  ) {
    this.#storage = storage;
    this.#prefix = prefix;
    this.name = name;
    this.shared = shared;
    this.#timeoutMs = timeoutMs;
    this.#now = now;
    this.#locks = locksOf(storage);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#op('set', 'kv', key, async (k) => {
      // A TTL of zero or less means "already expired", as in the memory store.
      if (!(ttlMs > 0)) return this.#storage.removeItem(k);
      await this.#write(k, { v: value, e: this.#now() + ttlMs } satisfies KvRecord);
    });
  }

  get(key: string): Promise<string | undefined> {
    // Serialised too: the fs driver rewrites a file in place, and a read beside a write could see
    // it half-written.
    return this.#op('get', 'kv', key, async (k) => (await this.#readKv(k))?.v);
  }

  delete(key: string): Promise<void> {
    return this.#op('delete', 'kv', key, (k) => this.#storage.removeItem(k));
  }

  take(key: string): Promise<string | undefined> {
    // Read then remove, with no other operation on this key of this process in between: of many
    // callers here, one gets the value. Another process can still read it before the removal.
    return this.#op('take', 'kv', key, async (k) => {
      const record = await this.#readKv(k);
      if (record) await this.#storage.removeItem(k);
      return record?.v;
    });
  }

  limit(key: string, rule: RateRule, cost = 1): Promise<LimitResult> {
    return this.#op('limit', 'rate', key, async (k) => {
      const now = this.#now();
      const raw = await this.#read(k, now);
      if (raw && !isNum(raw['t'])) malformed(k);
      const step = gcraStep((raw as TatRecord | undefined)?.t ?? 0, now, rule, cost);
      // A refusal leaves the TAT unchanged: nothing to write. Past its TAT a key carries no
      // information, so the TAT is also its expiry.
      if (step.result.allowed) await this.#write(k, { t: step.tat, e: step.tat } as TatRecord);
      return step.result;
    });
  }

  acquireLease(
    key: string,
    leaseId: string,
    max: number,
    ttlMs: number,
    options: AcquireLeaseOptions = {},
  ): Promise<LeaseResult> {
    return this.#op('acquireLease', 'lease', key, async (k) => {
      const now = this.#now();
      const leases = await this.#readLeases(k, now);
      const held = leases.find((l) => l[0] === leaseId);
      if (held) {
        // Re-acquiring keeps the lease's place in the acquisition order, as the memory store does.
        held[1] = now + ttlMs;
        await this.#writeLeases(k, leases);
        return { ok: true, count: leases.length };
      }
      let evicted: string | undefined;
      if (leases.length >= max) {
        if (!options.evictOldest || max < 1) return { ok: false, count: leases.length };
        evicted = leases.shift()?.[0];
      }
      leases.push([leaseId, now + ttlMs]);
      await this.#writeLeases(k, leases);
      return evicted === undefined
        ? { ok: true, count: leases.length }
        : { ok: true, count: leases.length, evicted };
    });
  }

  renewLeases(key: string, leaseIds: readonly string[], ttlMs: number): Promise<void> {
    if (leaseIds.length === 0) return Promise.resolve();
    return this.#op('renewLeases', 'lease', key, async (k) => {
      const now = this.#now();
      // Expired leases are dropped first: a renewal must not revive a lease whose slot another
      // connection may already hold.
      const leases = await this.#readLeases(k, now);
      if (leases.length === 0) return;
      const ids = new Set(leaseIds);
      for (const lease of leases) if (ids.has(lease[0])) lease[1] = now + ttlMs;
      await this.#writeLeases(k, leases);
    });
  }

  releaseLease(key: string, leaseId: string): Promise<void> {
    return this.#op('releaseLease', 'lease', key, async (k) => {
      const leases = await this.#readLeases(k, this.#now());
      const kept = leases.filter((l) => l[0] !== leaseId);
      if (kept.length !== leases.length) await this.#writeLeases(k, kept);
    });
  }

  countLeases(key: string): Promise<number> {
    return this.#op(
      'countLeases',
      'lease',
      key,
      async (k) => (await this.#readLeases(k, this.#now())).length,
    );
  }

  addScore(key: string, points: number, halfLifeMs: number): Promise<number> {
    return this.#op('addScore', 'score', key, async (k) => {
      const now = this.#now();
      const prev = await this.#read(k, now);
      if (prev && !(isNum(prev['s']) && isNum(prev['a']))) malformed(k);
      const p = prev as ScoreRecord | undefined;
      const score = (p ? p.s * 0.5 ** (Math.max(0, now - p.a) / halfLifeMs) : 0) + points;
      // Below 1/1024 of a point the score is noise; keep it for ten half-lives at most.
      await this.#write(k, { s: score, a: now, e: now + halfLifeMs * 10 } satisfies ScoreRecord);
      return score;
    });
  }

  close(): Promise<void> {
    // The storage belongs to the app (it may hold other data): dispose of it there.
    this.#closed = true;
    return Promise.resolve();
  }

  /**
   * One operation: the storage key for (`kind`, `key`), serialised behind earlier operations on
   * it, bounded by the timeout, every failure mapped to {@link StoreUnavailableError}. Each kind
   * has its own namespace, as each kind has its own map in the memory store.
   */
  #op<T>(op: string, kind: string, key: string, work: (k: string) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    return runBounded(`unstorage store: ${op}`, this.#timeoutMs, () => {
      const k = `${this.#prefix}${kind}:${encodeKey(key)}`;
      return serialised(this.#locks, k, () => {
        // The caller already got its timeout while this waited: do not act for nobody (a take
        // now would burn a ticket whose handshake was refused).
        if (performance.now() >= deadline) {
          return Promise.reject(new StoreUnavailableError(`unstorage store: ${op} abandoned`));
        }
        return work(k);
      });
    });
  }

  /** The live record at `k`, or `undefined`; an expired record is removed (we hold the lock). */
  async #read(
    k: string,
    now: number,
  ): Promise<({ e: number } & Record<string, unknown>) | undefined> {
    const raw = await this.#storage.getItem(k);
    if (raw === null || raw === undefined) return undefined;
    if (!isRecord(raw)) malformed(k);
    if (raw.e <= now) {
      await this.#storage.removeItem(k);
      return undefined;
    }
    return raw;
  }

  async #readKv(k: string): Promise<KvRecord | undefined> {
    const raw = await this.#read(k, this.#now());
    if (raw && typeof raw['v'] !== 'string') malformed(k);
    return raw as KvRecord | undefined;
  }

  async #readLeases(k: string, now: number): Promise<[string, number][]> {
    const raw = await this.#read(k, now);
    if (!raw) return [];
    const list = raw['l'];
    if (
      !Array.isArray(list) ||
      !list.every((l) => Array.isArray(l) && typeof l[0] === 'string' && isNum(l[1]))
    ) {
      malformed(k);
    }
    return (list as [string, number][]).filter((l) => l[1] > now);
  }

  /** Write the leases, or remove the key when none is left; the record lives as its last lease. */
  #writeLeases(k: string, leases: [string, number][]): Promise<void> {
    if (leases.length === 0) return this.#storage.removeItem(k);
    let e = 0;
    for (const l of leases) e = Math.max(e, l[1]);
    return this.#write(k, { l: leases, e } satisfies LeaseRecord);
  }

  async #write<R extends { e: number }>(k: string, record: R): Promise<void> {
    // The TTL hint (whole seconds, rounded up so a driver never expires a record early) lets
    // drivers with native expiry drop abandoned keys; the others rely on the sweep below.
    const ttl = Math.max(1, Math.ceil((record.e - this.#now()) / 1000));
    await this.#storage.setItem(k, record, { ttl });
    if (++this.#writes >= SWEEP_EVERY) {
      this.#writes = 0;
      void this.#sweep();
    }
  }

  /**
   * Remove expired records that nobody reads again (a ticket never redeemed, an IP seen once), for
   * drivers without native expiry. Runs in the background every {@link SWEEP_EVERY} writes, one
   * sweep at a time; each removal takes the key's lock and checks the expiry again, so it never
   * removes a record written since. Best effort: errors are ignored, the next sweep retries.
   */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#closed || typeof this.#storage.getKeys !== 'function') return;
    this.#sweeping = true;
    try {
      const keys = await this.#storage.getKeys(this.#prefix);
      for (const k of keys) {
        if (this.#closed) break;
        // Only this store's namespaces: the prefix may be shared with other data.
        if (!/^(kv|rate|lease|score):/.test(k.slice(this.#prefix.length))) continue;
        await serialised(this.#locks, k, async () => {
          const raw = await this.#storage.getItem(k);
          if (isRecord(raw) && raw.e <= this.#now()) await this.#storage.removeItem(k);
        }).catch(() => {});
      }
    } catch {
      // Best effort: the next sweep tries again.
    } finally {
      this.#sweeping = false;
    }
  }
}
