/**
 * The unstorage→Redis bridge: a Redis store on the ioredis client inside unstorage's Redis
 * driver. unstorage's generic API cannot redeem a ticket once (`getItem` then `removeItem` are two
 * commands, and racing instances both read the ticket before either removes it), so the store
 * takes the driver's own client and runs its atomic commands there.
 *
 * @module
 */
import type { Store } from './contract.ts';
import { createRedisStore, type RedisStoreOptions } from './redis.ts';
import type { RedisClientLike } from './redis-client.ts';
import type { UnstorageDriverLike, UnstorageLike } from './unstorage-like.ts';

/** Options for {@link redisStoreFromUnstorage}: those of {@link createRedisStore} but the client. */
export interface UnstorageRedisStoreOptions extends Omit<RedisStoreOptions, 'client' | 'prefix'> {
  /**
   * Which mount of a `Storage` to use.
   * @default '' (the root mount)
   */
  readonly mount?: string;
  /**
   * Key prefix.
   * @default the driver's `base` followed by `:wsguard:`, or `'wsguard:'` without a base
   */
  readonly prefix?: string;
}

/**
 * A Redis store over the ioredis client inside unstorage's Redis driver (a `Storage` with a Redis
 * mount, or the driver itself). unstorage's generic API cannot redeem a ticket once: `getItem`
 * then `removeItem` are two commands, and racing instances both read the ticket before either
 * removes it. This helper takes the driver's own client and runs the atomic commands on it.
 * Throws `TypeError` when the driver is not unstorage's Redis driver.
 *
 * @example
 * ```ts
 * import { createStorage } from 'unstorage';
 * import redisDriver from 'unstorage/drivers/redis';
 *
 * const storage = createStorage({ driver: redisDriver({ url: process.env.REDIS_URL, base: 'app' }) });
 * const guard = createGuard({ store: redisStoreFromUnstorage(storage), ... });
 * ```
 */
export function redisStoreFromUnstorage(
  source: UnstorageLike | UnstorageDriverLike,
  options: UnstorageRedisStoreOptions = {},
): Store {
  const driver =
    'getMount' in source && typeof source.getMount === 'function'
      ? source.getMount(options.mount ?? '').driver
      : (source as UnstorageDriverLike);
  const client = typeof driver.getInstance === 'function' ? driver.getInstance() : undefined;
  if (driver.name !== 'redis' || typeof (client as RedisClientLike)?.call !== 'function') {
    throw new TypeError(
      `redisStoreFromUnstorage: the driver "${driver.name ?? 'unknown'}" is not unstorage's Redis driver; ` +
        'only a driver with atomic commands can hold tickets and caps for several instances',
    );
  }
  const base = (driver.options as { base?: unknown } | undefined)?.base;
  const prefix =
    options.prefix ??
    (typeof base === 'string' && base.length > 0
      ? `${base.replace(/:$/, '')}:wsguard:`
      : 'wsguard:');
  const { mount: _mount, ...rest } = options;
  return createRedisStore({ ...rest, client: client as RedisClientLike, prefix });
}
