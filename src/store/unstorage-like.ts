/**
 * unstorage's `Storage` and drivers, typed structurally: only the members wsguard calls, so it
 * imports nothing from unstorage and any `createStorage(...)` result (or driver) fits.
 *
 * @module
 */

/** An unstorage driver, as far as {@link redisStoreFromUnstorage} needs it. */
export interface UnstorageDriverLike {
  /** Driver name; unstorage's Redis driver says `'redis'`. */
  readonly name?: string;
  /** The options the driver was created with (the Redis driver's `base` becomes the key prefix). */
  readonly options?: unknown;
  /** The driver's native client (an ioredis instance for the Redis driver). */
  readonly getInstance?: () => unknown;
}

/** An unstorage `Storage`, as far as {@link redisStoreFromUnstorage} needs it. */
export interface UnstorageLike {
  /** The mount serving `key`. */
  getMount(key?: string): { readonly base: string; readonly driver: UnstorageDriverLike };
}

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
