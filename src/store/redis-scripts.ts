/**
 * The Redis store's Lua scripts: each read-modify-write of the store (the GCRA limiter, leases,
 * penalty scores, a ticket taken with its TTL) is one script, so it runs as one atomic step in
 * Redis and two instances racing on a key can never both win. They read the clock from Redis
 * (`TIME`) unless a test pins it, and set every key's TTL again, so a key that lost its TTL heals
 * on its next use.
 *
 * @module
 */

/** One Lua script: its name (for reading a trace) and its text, loaded once and run by SHA. */
export interface Script {
  /** The operation it implements. */
  readonly name: string;
  /** The Lua text; its SHA-1 is the name Redis caches it under. */
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

/** Names of the store's scripts. */
type ScriptName = 'takeTtl' | 'limit' | 'acquire' | 'renew' | 'release' | 'count' | 'score';

/** The store's read-modify-write steps, each one atomic script. */
export const SCRIPTS: Readonly<Record<ScriptName, Script>> = {
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
};
