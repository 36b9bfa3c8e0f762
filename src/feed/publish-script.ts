/**
 * Publishing as one atomic step in Redis: an optional idempotency check (a key already seen in
 * its window returns the id it was first appended under, and appends nothing), the event's
 * sequence number (the last entry's plus one), `XADD` with its trim, the stream's TTL, and the
 * idempotency record. One script, so that a retry racing the attempt it retries (a publish that
 * timed out on a stalled Redis and went through afterwards) is dropped, and so that two instances
 * publishing at once can never give two events the same number.
 *
 * @module
 */
import type { Script } from '../store/redis-scripts.ts';

/**
 * KEYS: stream, [idempotency record]. ARGV: maxLen, ttlMs (0: keep), text, window ms.
 * Returns the entry's id (the first one's, for a key already seen).
 */
export const PUBLISH: Script = {
  name: 'feed.publish',
  source: `
local stream, record = KEYS[1], KEYS[2]
if record then
  local first = redis.call('GET', record)
  if first then return first end
end
local n = 1
local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if last then
  local fields = last[2]
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'n' then n = (tonumber(fields[i + 1]) or 0) + 1 end
  end
end
local id = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'v', ARGV[3], 'n', n)
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', stream, ARGV[2]) end
if record then redis.call('SET', record, id, 'PX', ARGV[4]) end
return id
`,
};

/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY = 200;

/**
 * The key of an idempotency record, in the stream's slot on Redis Cluster (a script's keys must
 * share one): after the stream's own hash tag when it has one, else with the stream key as tag.
 * Throws `TypeError` on a key that is not a string of 1 to 200 characters.
 */
export function recordKey(streamKey: string, idempotencyKey: unknown): string {
  if (
    typeof idempotencyKey !== 'string' ||
    idempotencyKey.length === 0 ||
    idempotencyKey.length > MAX_IDEMPOTENCY_KEY
  ) {
    throw new TypeError(
      `feed: idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY} characters`,
    );
  }
  return hasHashTag(streamKey)
    ? `${streamKey}:idem:${idempotencyKey}`
    : `{${streamKey}}:idem:${idempotencyKey}`;
}

/** Redis Cluster's rule: the first `{` followed later by a `}` with something between. */
function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  if (open === -1) return false;
  const close = key.indexOf('}', open + 1);
  return close > open + 1;
}
