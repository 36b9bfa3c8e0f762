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

/**
 * The part of a Redis client the store uses: ioredis's generic `call`. Declared structurally so
 * that the core has no runtime dependency on a Redis client (ioredis is an optional peer).
 */
export interface RedisClientLike {
  /** Send one command; resolves with the decoded reply (strings, integers, arrays, `null`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Close the connection; used by `close()` only when the store owns the client. */
  quit?(): Promise<unknown>;
  // A client that also has ioredis's `duplicate()` returning a {@link RedisSubscriberLike} gets
  // the pub/sub channel that carries bans to every instance; without it, bans are polled. Not
  // declared here, so that clients typed with a narrower `duplicate` (the feed's) still fit.
}

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

/** Shape of {@link REDIS_CLIENT_OPTIONS}. */
export interface RedisClientOptions {
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly enableOfflineQueue: boolean;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly maxRetriesPerRequest: number;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly autoResendUnfulfilledCommands: boolean;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly connectTimeout: number;
  /** See {@link REDIS_CLIENT_OPTIONS}. */
  readonly retryStrategy: (attempt: number) => number;
}

/**
 * ioredis options that suit a security store, to spread into `new Redis(url, { ... })`. The store
 * bounds every operation by itself; these settings make the client fail fast and never replay a
 * stale command, instead of queueing it for seconds:
 *
 * - `enableOfflineQueue: false`: while disconnected a command fails at once (a quick 503) instead
 *   of waiting in a queue and running after the caller was already refused, which would burn a
 *   ticket or hold a lease nobody uses. Wait for the client's `ready` event before serving, or
 *   the first handshakes get 503.
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when
 *   the connection drops is rejected, not resent after the reconnect (ioredis's defaults retry it
 *   20 times, about 10 s).
 * - `connectTimeout: 1000`: a host that drops packets is retried every second, not every 10 s.
 * - `retryStrategy`: reconnect forever, at most 1 s apart, so service resumes within about a
 *   second of Redis coming back.
 *
 * Attach an `'error'` listener to the client as well: ioredis reports connection errors as events.
 */
export const REDIS_CLIENT_OPTIONS: RedisClientOptions = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  retryStrategy: (attempt: number): number => Math.min(attempt * 100, 1000),
});

interface Script {
  readonly name: string;
  readonly source: string;
}

// Lua shared by the scripts. `now` is Redis's clock in whole ms (like Date.now) unless the caller
// pins one (tests). Numbers are written back with %.17g because Lua's tostring keeps only 14
// digits, which would round a fractional TAT and make Redis disagree with the memory store.
const CLOCK = `
local function clock(pinned)
  if pinned ~= nil and pinned ~= '' then return tonumber(pinned) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(x) return string.format('%.17g', x) end
`;

// Leases: KEYS[1] is a sorted set of lease id -> expiry (ms), for pruning and counting; KEYS[2]
// is a sorted set of lease id -> acquisition sequence, because the oldest lease is the first
// acquired, not the first to expire (renewals by other instances reorder expiries).
const LEASES = `${CLOCK}
local function prune(exp, seq, now)
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', num(now))
  if #gone == 0 then return end
  redis.call('ZREMRANGEBYSCORE', exp, '-inf', num(now))
  for i = 1, #gone, 500 do
    redis.call('ZREM', seq, unpack(gone, i, math.min(i + 499, #gone)))
  end
end
-- Both keys live as long as the furthest lease, set on every call so a key without TTL heals.
local function touch(exp, seq, now)
  local top = redis.call('ZRANGE', exp, -1, -1, 'WITHSCORES')
  if top[2] == nil then
    redis.call('DEL', seq)
    return
  end
  local ttl = math.max(1, math.ceil(tonumber(top[2]) - now))
  redis.call('PEXPIRE', exp, ttl)
  redis.call('PEXPIRE', seq, ttl)
end
`;

const SCRIPTS = {
  // GET, PTTL and DEL in one step: the value and the time it had left by Redis's clock.
  takeTtl: {
    name: 'takeTtl',
    source: `local v = redis.call('GET', KEYS[1])
if not v then return nil end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {v, ttl}
`,
  },
  // The GCRA step of src/core/rate-limit.ts (gcraStep), operation for operation and in the same order,
  // so both stores decide alike to the last bit; keep the two in step (a property test compares
  // them). KEYS[1] holds the TAT; ARGV: windowMs, limit, burst, cost, pinned clock.
  limit: {
    name: 'limit',
    source: `${CLOCK}
local now = clock(ARGV[5])
local interval = tonumber(ARGV[1]) / tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local base = math.max(tat, now)
local newTat = base + cost * interval
local allowAt = base + (cost - burst) * interval
if allowAt > now then
  if tat > now then redis.call('PEXPIRE', KEYS[1], math.ceil(tat - now)) end
  return {0, 0, math.ceil(allowAt - now)}
end
-- Past the TAT a key carries no information: that horizon is its TTL.
redis.call('SET', KEYS[1], num(newTat), 'PX', math.max(1, math.ceil(newTat - now)))
return {1, math.max(0, math.floor(burst - cost - (base - now) / interval + 1e-9)), 0}
`,
  },
  // ARGV: lease id, max, ttlMs, evictOldest (1/0), pinned clock. Returns {ok, count[, evicted]}.
  acquire: {
    name: 'acquire',
    source: `${LEASES}
local exp, seq = KEYS[1], KEYS[2]
local id, max, ttl, evict = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local now = clock(ARGV[5])
prune(exp, seq, now)
if redis.call('ZSCORE', exp, id) then
  redis.call('ZADD', exp, num(now + ttl), id)
  touch(exp, seq, now)
  return {1, redis.call('ZCARD', exp)}
end
local count = redis.call('ZCARD', exp)
local evicted = nil
if count >= max then
  if (not evict) or max < 1 then
    touch(exp, seq, now)
    return {0, count}
  end
  while evicted == nil do
    local first = redis.call('ZRANGE', seq, 0, 0)
    if first[1] == nil then break end
    redis.call('ZREM', seq, first[1])
    if redis.call('ZREM', exp, first[1]) == 1 then evicted = first[1] end
  end
  -- The order set was lost (eviction under maxmemory): fall back to the nearest expiry.
  if evicted == nil then evicted = redis.call('ZPOPMIN', exp)[1] end
end
local last = redis.call('ZRANGE', seq, -1, -1, 'WITHSCORES')
local n = 1
if last[2] ~= nil then n = tonumber(last[2]) + 1 end
redis.call('ZADD', exp, num(now + ttl), id)
redis.call('ZADD', seq, num(n), id)
touch(exp, seq, now)
count = redis.call('ZCARD', exp)
if evicted ~= nil then return {1, count, evicted} end
return {1, count}
`,
  },
  // ARGV: ttlMs, pinned clock, lease ids... Expired leases are pruned first: a renewal must not
  // revive a lease whose slot another connection may already hold.
  renew: {
    name: 'renew',
    source: `${LEASES}
local exp, seq = KEYS[1], KEYS[2]
local now = clock(ARGV[2])
prune(exp, seq, now)
local until_ = num(now + tonumber(ARGV[1]))
for i = 3, #ARGV do redis.call('ZADD', exp, 'XX', until_, ARGV[i]) end
touch(exp, seq, now)
return 0
`,
  },
  // ARGV: lease id, pinned clock.
  release: {
    name: 'release',
    source: `${LEASES}
local exp, seq = KEYS[1], KEYS[2]
local now = clock(ARGV[2])
redis.call('ZREM', exp, ARGV[1])
redis.call('ZREM', seq, ARGV[1])
prune(exp, seq, now)
touch(exp, seq, now)
return 0
`,
  },
  // ARGV: pinned clock. Counts live leases without writing.
  count: {
    name: 'count',
    source: `${CLOCK}
return redis.call('ZCOUNT', KEYS[1], '(' .. num(clock(ARGV[1])), '+inf')
`,
  },
  // A decaying score in a hash {s = score, a = time of last update}. ARGV: points, halfLifeMs,
  // pinned clock. Kept for ten half-lives (below 1/1024 of a point a score is noise).
  score: {
    name: 'score',
    source: `${CLOCK}
local now = clock(ARGV[3])
local points, half = tonumber(ARGV[1]), tonumber(ARGV[2])
local prev = redis.call('HMGET', KEYS[1], 's', 'a')
local score = points
if prev[1] and prev[2] then
  local s, at = tonumber(prev[1]), tonumber(prev[2])
  if s and at then score = s * 0.5 ^ (math.max(0, now - at) / half) + points end
end
redis.call('HSET', KEYS[1], 's', num(score), 'a', num(now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(half * 10)))
return num(score)
`,
  },
} as const satisfies Record<string, Script>;

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

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
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
  readonly #shas = new Map<Script, Promise<string>>();
  readonly #subscriptions = new Set<StoreSubscription>();

  constructor(
    client: RedisClientLike,
    prefix: string,
    timeoutMs: number,
    ownsClient: boolean,
    now: (() => number) | undefined,
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
    this.#ownsClient = ownsClient;
    this.#now = now;
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
      const r = await this.#eval(SCRIPTS.takeTtl, [k], []);
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
    const duplicate = (this.#client as { duplicate?: (override?: object) => RedisSubscriberLike })
      .duplicate;
    if (typeof duplicate !== 'function') return undefined;
    const c = this.#prefix + channel;
    // ioredis's own resubscription sends SUBSCRIBE on `ready` without handling its failure: a
    // connection that drops again at that moment rejects unhandled. The store subscribes itself
    // at every `ready`, with a handler, so the client's is turned off.
    const dup = duplicate.call(this.#client, { autoResubscribe: false });
    if (typeof dup.subscribe !== 'function' || typeof dup.on !== 'function') {
      dup.disconnect?.();
      return undefined;
    }
    const sub = dup as Required<Pick<RedisSubscriberLike, 'subscribe' | 'on'>> &
      RedisSubscriberLike;
    let closed = false;
    const onReady = () => {
      if (closed) return;
      // SUBSCRIBE is idempotent, so it is sent at every (re)connect whatever the client's own
      // resubscription does; after the first, messages may have been lost meanwhile: resync.
      sub.subscribe(c).then(
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
    sub.on('message', ((ch: string, message: string) => {
      if (ch === c && !closed) listener.message(message);
    }) as (...args: never[]) => void);
    // ioredis reports connection trouble as events; unheard, it prints them. The store's own
    // commands already fail closed; a lost subscription is made good by `resync`.
    sub.on('error', (() => {}) as (...args: never[]) => void);
    const subscription: StoreSubscription = {
      close: () => {
        closed = true;
        this.#subscriptions.delete(subscription);
        sub.disconnect?.();
        return Promise.resolve();
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  limit(key: string, rule: RateRule, cost = 1): Promise<LimitResult> {
    const args = [rule.windowMs, rule.limit, rule.burst ?? rule.limit, cost, this.#clock()];
    return this.#run('limit', async () => {
      const r = asArray(await this.#eval(SCRIPTS.limit, [this.#key(key)], args));
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
      const r = asArray(await this.#eval(SCRIPTS.acquire, this.#leaseKeys(key), args));
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
      await this.#eval(SCRIPTS.renew, this.#leaseKeys(key), args);
    });
  }

  releaseLease(key: string, leaseId: string): Promise<void> {
    const args = [leaseId, this.#clock()];
    return this.#run('releaseLease', async () => {
      await this.#eval(SCRIPTS.release, this.#leaseKeys(key), args);
    });
  }

  countLeases(key: string): Promise<number> {
    const keys = this.#leaseKeys(key).slice(0, 1);
    const args = [this.#clock()];
    return this.#run('countLeases', async () =>
      toNumber(await this.#eval(SCRIPTS.count, keys, args)),
    );
  }

  addScore(key: string, points: number, halfLifeMs: number): Promise<number> {
    const args = [points, halfLifeMs, this.#clock()];
    return this.#run('addScore', async () =>
      toNumber(await this.#eval(SCRIPTS.score, [this.#key(key)], args)),
    );
  }

  async close(): Promise<void> {
    this.#shas.clear();
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

  /**
   * Run a script by SHA, loading it on first use. On NOSCRIPT (Redis restarted, `SCRIPT FLUSH`,
   * or another cluster node) the script is sent in full with EVAL, which runs it and caches it
   * again under the same SHA (the SHA-1 of its text): one round trip, on the node that owns the key.
   */
  async #eval(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const sha = await this.#load(script);
    try {
      return await this.#client.call('EVALSHA', sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return await this.#client.call('EVAL', script.source, keys.length, ...keys, ...args);
    }
  }

  #load(script: Script): Promise<string> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      const loading = this.#client.call('SCRIPT', 'LOAD', script.source).then(String);
      sha = loading;
      this.#shas.set(script, loading);
      // A failed load (Redis down) must not be remembered: the next call tries again.
      loading.catch(() => {
        if (this.#shas.get(script) === loading) this.#shas.delete(script);
      });
    }
    return sha;
  }

  #run<T>(op: string, work: () => Promise<T>): Promise<T> {
    return runBounded(`redis store: ${op}`, this.#timeoutMs, work);
  }
}

/**
 * Bound `work` by `timeoutMs` and map every failure to {@link StoreUnavailableError} (messages
 * `<label> timed out after <n> ms` and `<label> failed`). Shared by the store and the event feed,
 * so every Redis operation of wsguard fails closed the same way. The client's own promise may
 * settle after the timeout (a late reply, or ioredis flushing its queue); it is observed here so
 * that a late rejection never surfaces as unhandled.
 */
export function runBounded<T>(
  label: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new StoreUnavailableError(`${label} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) =>
        finish(() =>
          reject(
            error instanceof StoreUnavailableError
              ? error
              : new StoreUnavailableError(`${label} failed`, { cause: error }),
          ),
        ),
    );
  });
}

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
