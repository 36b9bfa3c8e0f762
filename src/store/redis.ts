/**
 * The Redis store: the guard's state shared by every instance behind a load balancer. Each store
 * operation is one atomic step in Redis, either a single command (`GETDEL` for tickets) or one Lua
 * script (the GCRA limiter, leases, penalty scores), so two instances racing on the same key can
 * never both win.
 *
 * - Scripts are loaded once (`SCRIPT LOAD`) and run by SHA (`EVALSHA`); when Redis answers
 *   `NOSCRIPT` (it restarted, or someone ran `SCRIPT FLUSH`) the script is sent once in full
 *   (`EVAL`), which loads it again.
 * - Scripts read the clock from Redis (`TIME`), so instances with skewed clocks still agree.
 * - Every key gets a TTL, and every script sets it again, so a key that lost its TTL heals on its
 *   next use instead of living forever.
 * - Every operation settles within `commandTimeoutMs` (250 ms by default): when Redis is down or
 *   stalled it rejects with {@link StoreUnavailableError} and the guard fails closed, where a
 *   client left to its defaults would hang for seconds. When Redis comes back, the next operation
 *   succeeds; nothing needs a restart.
 *
 * The client is passed in, so wsguard's core never imports a Redis client: any object with
 * ioredis's `call(command, ...args)` works, including the client inside unstorage's Redis driver.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { createGuard, createRedisStore, REDIS_CLIENT_OPTIONS } from 'wsguard';
 *
 * const redis = new Redis(process.env.REDIS_URL!, REDIS_CLIENT_OPTIONS);
 * redis.on('error', (error) => console.error('[redis]', error.message));
 * const guard = createGuard({ store: createRedisStore({ client: redis }), requireSharedStore: true, ... });
 * ```
 *
 * @module
 */
import { StoreUnavailableError } from '../core/errors.ts';
import type { LimitResult, RateRule } from '../core/rate-limit.ts';
import type {
  AcquireLeaseOptions,
  ChannelListener,
  LeaseResult,
  Store,
  StoreSubscription,
  TakenValue,
} from './contract.ts';
import { subscribeChannel } from './redis-channel.ts';
import type { RedisClientLike } from './redis-client.ts';
import { FirstReady } from './redis-first-ready.ts';
import { ScriptRunner } from './redis-script-runner.ts';
import { SCRIPTS } from './redis-scripts.ts';
import { runBounded } from './run-bounded.ts';

/** Options for {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** A connected client, such as an `ioredis` instance (see {@link REDIS_CLIENT_OPTIONS}). */
  readonly client: RedisClientLike;
  /**
   * Prefix for every key, so several apps (or test runs) can share one Redis.
   * @default 'wsguard:'
   */
  readonly prefix?: string;
  /**
   * Upper bound in ms on every store operation, including a script reload. Past it the operation
   * rejects with {@link StoreUnavailableError}: a handshake waits at most this long on a dead
   * Redis. Loopback round trips take well under a millisecond; leave room for a busy server.
   * @default 250
   */
  readonly commandTimeoutMs?: number;
  /**
   * `close()` also quits the client. Leave it off when the client is shared with other code
   * (an unstorage driver, pub/sub).
   * @default false
   */
  readonly ownsClient?: boolean;
  /**
   * Clock in ms, for tests only. Unset, the scripts read Redis's own clock (`TIME`), which is what
   * keeps instances with skewed clocks in agreement; key TTLs always run on Redis's clock.
   * @default Redis `TIME`
   */
  readonly now?: () => number;
}

/**
 * Create a store on Redis (6.2 or later, for `GETDEL`). Throws `TypeError` on malformed options.
 *
 * @example
 * ```ts
 * const redis = new Redis(process.env.REDIS_URL!, REDIS_CLIENT_OPTIONS);
 * redis.on('error', (error) => log.warn({ error }, 'redis'));
 * const store = createRedisStore({ client: redis, prefix: 'chat:wsguard:' });
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const client = options?.client;
  if (typeof client?.call !== 'function') {
    throw new TypeError(
      'createRedisStore: `client` must be a Redis client with call(command, ...args), such as ioredis',
    );
  }
  const prefix = options.prefix ?? 'wsguard:';
  if (typeof prefix !== 'string')
    throw new TypeError('createRedisStore: `prefix` must be a string');
  const timeout = options.commandTimeoutMs ?? 250;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new TypeError('createRedisStore: `commandTimeoutMs` must be a positive number of ms');
  }
  return new RedisStore(client, prefix, timeout, options.ownsClient ?? false, options.now);
}

function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (typeof value === 'object' || !Number.isFinite(n)) {
    throw new StoreUnavailableError('redis store: unexpected reply');
  }
  return n;
}

function asArray(value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw new StoreUnavailableError('redis store: unexpected reply');
  return value;
}

class RedisStore implements Store {
  readonly name = 'redis';
  readonly shared = true;
  readonly #client: RedisClientLike;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #ownsClient: boolean;
  readonly #now: (() => number) | undefined;
  readonly #scripts: ScriptRunner;
  readonly #subscriptions = new Set<StoreSubscription>();
  readonly #firstReady: FirstReady;

  constructor(
    client: RedisClientLike,
    prefix: string,
    timeoutMs: number,
    ownsClient: boolean,
    now: (() => number) | undefined,
  ) {
    this.#client = client;
    this.#firstReady = new FirstReady(client);
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
    this.#ownsClient = ownsClient;
    this.#now = now;
    this.#scripts = new ScriptRunner(client);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    // A TTL of zero or less means "already expired" in the memory store; SET PX refuses it.
    if (!(ttlMs > 0)) return this.delete(key);
    const k = this.#key(key);
    return this.#run('set', async () => {
      await this.#client.call('SET', k, value, 'PX', Math.ceil(ttlMs));
    });
  }

  get(key: string): Promise<string | undefined> {
    const k = this.#key(key);
    return this.#run('get', async () => {
      const v = await this.#client.call('GET', k);
      return v === null || v === undefined ? undefined : String(v);
    });
  }

  delete(key: string): Promise<void> {
    const k = this.#key(key);
    return this.#run('delete', async () => {
      await this.#client.call('DEL', k);
    });
  }

  take(key: string): Promise<string | undefined> {
    const k = this.#key(key);
    // GETDEL is one command, hence atomic: of any number of racing instances, one gets the value.
    return this.#run('take', async () => {
      const v = await this.#client.call('GETDEL', k);
      return v === null || v === undefined ? undefined : String(v);
    });
  }

  takeWithTtl(key: string): Promise<TakenValue | undefined> {
    const k = this.#key(key);
    return this.#run('take', async () => {
      const r = await this.#scripts.eval(SCRIPTS.takeTtl, [k], []);
      if (r === null || r === undefined) return undefined;
      const [value, ttl] = asArray(r);
      // PTTL answers -1 for a key without expiry: it cannot be judged expired by time.
      const ttlMs = toNumber(ttl);
      return { value: String(value), ttlMs: ttlMs < 0 ? Number.POSITIVE_INFINITY : ttlMs };
    });
  }

  publish(channel: string, message: string): Promise<void> {
    const c = this.#prefix + channel;
    return this.#run('publish', async () => {
      await this.#client.call('PUBLISH', c, message);
    });
  }

  subscribe(channel: string, listener: ChannelListener): StoreSubscription | undefined {
    return subscribeChannel(this.#client, this.#prefix + channel, listener, this.#subscriptions);
  }

  limit(key: string, rule: RateRule, cost = 1): Promise<LimitResult> {
    const args = [rule.windowMs, rule.limit, rule.burst ?? rule.limit, cost, this.#clock()];
    return this.#run('limit', async () => {
      const r = asArray(await this.#scripts.eval(SCRIPTS.limit, [this.#key(key)], args));
      return {
        allowed: toNumber(r[0]) === 1,
        remaining: toNumber(r[1]),
        retryAfterMs: toNumber(r[2]),
      };
    });
  }

  acquireLease(
    key: string,
    leaseId: string,
    max: number,
    ttlMs: number,
    options: AcquireLeaseOptions = {},
  ): Promise<LeaseResult> {
    const args = [
      leaseId,
      max,
      Math.ceil(ttlMs),
      options.evictOldest ? 1 : 0,
      this.#clock(),
    ] as const;
    return this.#run('acquireLease', async () => {
      const r = asArray(await this.#scripts.eval(SCRIPTS.acquire, this.#leaseKeys(key), args));
      const ok = toNumber(r[0]) === 1;
      const count = toNumber(r[1]);
      const evicted = r[2];
      return typeof evicted === 'string' ? { ok, count, evicted } : { ok, count };
    });
  }

  renewLeases(key: string, leaseIds: readonly string[], ttlMs: number): Promise<void> {
    if (leaseIds.length === 0) return Promise.resolve();
    const args = [Math.ceil(ttlMs), this.#clock(), ...leaseIds];
    return this.#run('renewLeases', async () => {
      await this.#scripts.eval(SCRIPTS.renew, this.#leaseKeys(key), args);
    });
  }

  releaseLease(key: string, leaseId: string): Promise<void> {
    const args = [leaseId, this.#clock()];
    return this.#run('releaseLease', async () => {
      await this.#scripts.eval(SCRIPTS.release, this.#leaseKeys(key), args);
    });
  }

  countLeases(key: string): Promise<number> {
    const keys = this.#leaseKeys(key).slice(0, 1);
    const args = [this.#clock()];
    return this.#run('countLeases', async () =>
      toNumber(await this.#scripts.eval(SCRIPTS.count, keys, args)),
    );
  }

  addScore(key: string, points: number, halfLifeMs: number): Promise<number> {
    const args = [points, halfLifeMs, this.#clock()];
    return this.#run('addScore', async () =>
      toNumber(await this.#scripts.eval(SCRIPTS.score, [this.#key(key)], args)),
    );
  }

  async close(): Promise<void> {
    this.#scripts.clear();
    for (const s of [...this.#subscriptions]) await s.close();
    if (this.#ownsClient && this.#client.quit) {
      await this.#run('close', async () => {
        await this.#client.quit?.();
      });
    }
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  /**
   * The two keys of a lease set share a hash tag (`{…}`), so a script touching both stays on one
   * slot should the keys ever be spread over a Redis Cluster.
   */
  #leaseKeys(key: string): string[] {
    const base = `${this.#prefix}{${key}}`;
    return [`${base}:exp`, `${base}:seq`];
  }

  #clock(): string {
    return this.#now ? String(this.#now()) : '';
  }

  #run<T>(op: string, work: () => Promise<T>): Promise<T> {
    const connecting = this.#firstReady.pending();
    return runBounded(
      `redis store: ${op}`,
      this.#timeoutMs,
      connecting === undefined ? work : () => connecting.then(work),
    );
  }
}
