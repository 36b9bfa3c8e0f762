/**
 * A store on any unstorage `Storage`: tickets, limits, caps and scores on whatever driver the app
 * already uses (memory, fs, a database, a KV service).
 *
 * Two paths, chosen from the driver that serves the store's keys:
 *
 * - **unstorage's Redis driver: the atomic path.** The store is {@link redisStoreFromUnstorage}
 *   on the driver's own ioredis client: `GETDEL` for tickets, one Lua script for every other
 *   read-modify-write. Shared by every instance (`shared: true`).
 * - **Any other driver: the generic path**, over `getItem`/`setItem`/`removeItem` only. Those are
 *   separate calls, so a read-modify-write is not atomic in the driver. This store serialises
 *   every operation per key *within its process*, which makes it atomic there; it cannot do so
 *   across processes. Measured for issue 5: two processes redeeming 20 tickets through unstorage's
 *   generic API redeemed them 440 times, where `GETDEL` on the driver's client allowed exactly 20.
 *   So the generic path says `shared: false`, and `createGuard({ requireSharedStore: true })`
 *   refuses it at start-up, unless the app opts in by name with `dangerouslyAllowNonAtomicSharing`.
 *
 * This module imports nothing from unstorage at run time: the storage is typed structurally.
 *
 * @module
 */
import { StoreUnavailableError } from '../core/errors.ts';
import { gcraStep, type LimitResult, type RateRule } from '../core/rate-limit.ts';
import type { AcquireLeaseOptions, LeaseResult, Store } from './contract.ts';
import { redisStoreFromUnstorage, runBounded, type UnstorageLike } from './redis.ts';

/**
 * An unstorage `Storage`, as far as {@link createUnstorageStore} needs it. Declared structurally so
 * that wsguard's core does not import unstorage; any `createStorage(...)` result fits.
 */
export interface UnstorageStorageLike extends UnstorageLike {
  /** Read a key; unstorage parses JSON values back into objects. `null` when absent. */
  getItem(key: string): Promise<unknown>;
  /** Write a key. `ttl` (seconds) is a hint some drivers honour; the value holds the expiry too. */
  setItem(key: string, value: object, opts?: { ttl?: number }): Promise<void>;
  /** Remove a key; removing a missing key is not an error. */
  removeItem(key: string): Promise<void>;
  /** Keys under `base`, for the background sweep of expired entries. */
  getKeys?(base?: string): Promise<string[]>;
}

/** Options for {@link createUnstorageStore}. */
export interface UnstorageStoreOptions {
  /** The unstorage `Storage` (`createStorage`). The mount serving `prefix` decides the path. */
  readonly storage: UnstorageStorageLike;
  /**
   * Prefix for every key (a `:` is appended when missing), so the store's keys stay apart from the
   * app's own. On the Redis driver the keys are the driver's `base`, then this prefix.
   * @default 'wsguard:'
   */
  readonly prefix?: string;
  /**
   * Declare the generic (non-Redis) path `shared: true`, so that `requireSharedStore` accepts it
   * for several instances. **What is lost:** the generic path is atomic within one process only.
   * Across processes, a ticket may be redeemed more than once (measured: 20 tickets redeemed 440
   * times by two racing processes), a cap of N connections may be exceeded, a rate limit may
   * allow more than its budget, and penalty points may be lost. Only for drivers where that is
   * acceptable; use unstorage's Redis driver (or `createRedisStore`) for real guarantees.
   * Ignored on the Redis driver, which is atomic and shared anyway.
   * @default false
   */
  readonly dangerouslyAllowNonAtomicSharing?: boolean;
  /**
   * Upper bound in ms on every operation, including its wait behind earlier operations on the
   * same key. Past it the operation rejects with {@link StoreUnavailableError} (the guard fails
   * closed), and an operation still queued when its caller gave up is not run, so a handshake
   * that was refused never burns a ticket afterwards. On the Redis driver this is the Redis
   * store's `commandTimeoutMs`.
   * @default 1000 (250 on the Redis driver)
   */
  readonly commandTimeoutMs?: number;
  /**
   * Clock in ms, for tests. On the generic path it decides expiry; on the Redis driver it pins the
   * scripts' clock as `createRedisStore`'s `now` does.
   * @default Date.now
   */
  readonly now?: () => number;
}

/**
 * Create a store on an unstorage `Storage`. Throws `TypeError` on malformed options.
 *
 * - When the mount serving `prefix` is unstorage's Redis driver, this returns
 *   {@link redisStoreFromUnstorage} on the driver's client: the atomic path (`GETDEL`, Lua),
 *   `shared: true`, safe for any number of instances.
 * - Otherwise it returns the generic store: every operation over `getItem`/`setItem`/`removeItem`,
 *   expiry stored in the value (drivers' TTL support varies, so the read-time check decides), each
 *   operation serialised per key within this process (two stores on one `Storage` object share
 *   the serialisation). `shared` is `false` so the doctor refuses it for several instances, because
 *   across processes its read-then-write steps race (see
 *   {@link UnstorageStoreOptions.dangerouslyAllowNonAtomicSharing} for what that loses).
 *
 * @example
 * ```ts
 * import { createStorage } from 'unstorage';
 * import fsDriver from 'unstorage/drivers/fs';
 *
 * const storage = createStorage({ driver: fsDriver({ base: './.data' }) });
 * const guard = createGuard({ store: createUnstorageStore({ storage }), ... }); // one instance
 * ```
 */
export function createUnstorageStore(options: UnstorageStoreOptions): Store {
  const storage = options?.storage;
  if (
    typeof storage?.getItem !== 'function' ||
    typeof storage.setItem !== 'function' ||
    typeof storage.removeItem !== 'function' ||
    typeof storage.getMount !== 'function'
  ) {
    throw new TypeError('createUnstorageStore: `storage` must be an unstorage Storage');
  }
  const rawPrefix = options.prefix ?? 'wsguard:';
  if (typeof rawPrefix !== 'string') {
    throw new TypeError('createUnstorageStore: `prefix` must be a string');
  }
  const timeout = options.commandTimeoutMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw new TypeError('createUnstorageStore: `commandTimeoutMs` must be a positive number of ms');
  }
  // unstorage normalises every key (`/` to `:`, `::` to `:`, drops what follows `?`); normalising
  // the prefix the same way keeps the keys this store locks equal to the keys the driver sees.
  const base = normalizeKey(rawPrefix);
  const prefix = base ? `${base}:` : '';

  const mount = storage.getMount(prefix);
  if (mount.driver.name === 'redis') {
    // The atomic path. Keys land where the generic path would put them: the driver's base, then
    // the prefix relative to the mount point.
    const relative = prefix.startsWith(mount.base) ? prefix.slice(mount.base.length) : prefix;
    const driverBase = (mount.driver.options as { base?: unknown } | undefined)?.base;
    const redisPrefix =
      typeof driverBase === 'string' && driverBase.length > 0
        ? `${driverBase.replace(/:$/, '')}:${relative}`
        : relative;
    return redisStoreFromUnstorage(mount.driver, {
      prefix: redisPrefix,
      ...(timeout === undefined ? {} : { commandTimeoutMs: timeout }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }
  return new UnstorageStore(
    storage,
    prefix,
    `unstorage:${mount.driver.name ?? 'custom'}`,
    options.dangerouslyAllowNonAtomicSharing === true,
    timeout ?? 1000,
    options.now ?? Date.now,
  );
}

/** unstorage's `normalizeKey`, so the keys locked here are the keys the driver stores. */
function normalizeKey(key: string): string {
  return key.split('?')[0]?.replace(/[/\\]/g, ':').replace(/:+/g, ':').replace(/^:|:$/g, '') ?? '';
}

/**
 * Encode a caller's key as one driver-safe segment: only `a-z`, `0-9`, `_` and `-` pass, every
 * other character is `%XX` per UTF-8 byte (a lone surrogate `%uXXXX`). Unencoded, unstorage
 * would fold keys together (`ip:::1` and `ip:1` both become `ip:1`; `alice?x` becomes `alice`),
 * the fs driver would refuse `..` and nest `:` as directories, and a case-insensitive file system
 * would merge `Alice` with `alice`: two users sharing one cap or one ban. The empty key is `%`.
 */
function encodeKey(key: string): string {
  // A lone `%` is no other key's encoding; an empty segment would name the directory above.
  if (key === '') return '%';
  return key.replace(/[^a-z0-9_-]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x80) return `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    if (code >= 0xd800 && code <= 0xdfff) return `%u${code.toString(16).toUpperCase()}`;
    return encodeURIComponent(c);
  });
}

/** Per-`Storage` locks, so that two stores on one `Storage` object serialise on the same keys. */
const LOCKS = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * Run `work` after every earlier operation on `key` has finished. The map holds a key only while
 * operations on it are pending: the last one out deletes it, so the map never grows with idle keys.
 */
async function serialised<T>(
  locks: Map<string, Promise<void>>,
  key: string,
  work: () => Promise<T>,
): Promise<T> {
  const previous = locks.get(key);
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous ? previous.then(() => done) : done;
  locks.set(key, tail);
  try {
    if (previous) await previous;
    return await work();
  } finally {
    release();
    if (locks.get(key) === tail) locks.delete(key);
  }
}

// Records as stored (JSON through unstorage). Every record carries its expiry `e` (ms), because
// the driver may ignore TTLs: a record read past `e` is treated as absent.
interface KvRecord {
  v: string;
  e: number;
}
interface TatRecord {
  t: number;
  e: number;
}
interface LeaseRecord {
  /** Leases in acquisition order (the first is the oldest): [id, expiry]. */
  l: [string, number][];
  e: number;
}
interface ScoreRecord {
  s: number;
  a: number;
  e: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function isRecord(x: unknown): x is { e: number } & Record<string, unknown> {
  return typeof x === 'object' && x !== null && isNum((x as { e?: unknown }).e);
}

/** Reject a value this store did not write: fail closed rather than guess (a cap, a ban). */
function malformed(key: string): never {
  throw new StoreUnavailableError(`unstorage store: unexpected value at ${key}`);
}

/** How many writes between two background sweeps of expired records. */
const SWEEP_EVERY = 10_000;

class UnstorageStore implements Store {
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
    let locks = LOCKS.get(storage);
    if (!locks) {
      locks = new Map();
      LOCKS.set(storage, locks);
    }
    this.#locks = locks;
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
