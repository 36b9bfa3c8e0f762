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
import type { Store } from './contract.ts';
import { redisStoreFromUnstorage } from './redis-unstorage.ts';
import { UnstorageStore } from './unstorage-generic.ts';
import { normalizeKey } from './unstorage-keys.ts';
import type { UnstorageStorageLike } from './unstorage-like.ts';

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
