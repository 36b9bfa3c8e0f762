/**
 * The rate-limit failure policy. By default the guard fails closed when its store is unreachable:
 * every handshake is refused with 503. With `limits.onStoreError: 'local'`, rate limits, penalty
 * scores, bans and ban lookups fall back to this process's own state while the store is down —
 * the connection rate is then enforced per instance instead of cluster-wide, violations are scored
 * here, a ban started during the outage holds on this instance, and only bans held in memory here
 * apply — so a Redis outage does not take the whole service down, nor switch the automatic bans
 * off. Tickets, caps and everything else still fail closed: a ticket redeemed without the shared
 * store could be redeemed twice.
 *
 * @module
 */
import { type LimitResult, LocalLimiter, type RateRule } from '../core/rate-limit.ts';
import type { Store } from './contract.ts';

/** What the guard does with rate limits when the store cannot answer. */
export type StoreErrorPolicy = 'fail-closed' | 'local';

/**
 * Wrap `store` so that `limit()` and ban lookups (`get('ban:…')`) answer from local state when
 * the store fails. `onFallback` is told each time, for audit and metrics.
 */
export function withLocalFallback(
  store: Store,
  onFallback: (operation: string, error: unknown) => void,
): Store {
  const limiters = new Map<string, LocalLimiter>();
  const localBans = new Map<string, { value: string; expiresAt: number }>();
  const localScores = new Map<string, LocalScore>();
  const limiterFor = (rule: RateRule): LocalLimiter => {
    const k = `${rule.limit}/${rule.windowMs}/${rule.burst ?? rule.limit}`;
    let l = limiters.get(k);
    if (!l) {
      l = new LocalLimiter(rule);
      limiters.set(k, l);
    }
    return l;
  };
  return {
    ...bindAll(store),
    async limit(key: string, rule: RateRule, cost?: number): Promise<LimitResult> {
      try {
        return await store.limit(key, rule, cost);
      } catch (error) {
        onFallback('limit', error);
        return limiterFor(rule).take(key, Date.now(), cost);
      }
    },
    async set(key: string, value: string, ttlMs: number): Promise<void> {
      if (!key.startsWith('ban:')) return store.set(key, value, ttlMs);
      // Bans are remembered here too, so they still hold on this instance during an outage, and
      // a ban placed during the outage holds here even though the store did not take it.
      remember(
        localBans,
        key,
        { value, expiresAt: Date.now() + ttlMs },
        (e, t) => e.expiresAt <= t,
      );
      try {
        await store.set(key, value, ttlMs);
      } catch (error) {
        onFallback('ban', error);
      }
    },
    async addScore(key: string, points: number, halfLifeMs: number): Promise<number> {
      try {
        return await store.addScore(key, points, halfLifeMs);
      } catch (error) {
        onFallback('score', error);
        return addLocalScore(localScores, key, points, halfLifeMs);
      }
    },
    async delete(key: string): Promise<void> {
      // An unban lifts the local copy too, or the next outage brings the ban back.
      if (key.startsWith('ban:')) localBans.delete(key);
      await store.delete(key);
    },
    async get(key: string): Promise<string | undefined> {
      try {
        const value = await store.get(key);
        // The store is the truth while it answers: a ban lifted elsewhere is dropped here too.
        if (value === undefined && key.startsWith('ban:')) localBans.delete(key);
        return value;
      } catch (error) {
        if (!key.startsWith('ban:')) throw error;
        onFallback('ban lookup', error);
        const local = localBans.get(key);
        return local && local.expiresAt > Date.now() ? local.value : undefined;
      }
    },
  };
}

/** A penalty score held here while the store is down. */
interface LocalScore {
  score: number;
  at: number;
  halfLifeMs: number;
}

/**
 * Add `points` to the local score of `key`. The local score starts from zero: the shared score is
 * out of reach, and counting from zero errs towards the client, never against it.
 */
function addLocalScore(
  scores: Map<string, LocalScore>,
  key: string,
  points: number,
  halfLifeMs: number,
): number {
  const t = Date.now();
  const prev = scores.get(key);
  const score = (prev ? prev.score * 0.5 ** ((t - prev.at) / halfLifeMs) : 0) + points;
  remember(scores, key, { score, at: t, halfLifeMs }, (e, now) => now - e.at > e.halfLifeMs * 10);
  return score;
}

/** Entries kept per local map: past it, expired entries go first, then the oldest. */
const MAX_LOCAL_ENTRIES = 10_000;
/** Writes past the bound between two sweeps: a sweep costs the map's size, so it runs rarely. */
const SWEEP_EVERY = MAX_LOCAL_ENTRIES / 4;
const overflowWrites = new WeakMap<Map<string, unknown>, number>();

/** Set `key` in a bounded map (re-inserted, so insertion order is write order). */
function remember<V>(
  map: Map<string, V>,
  key: string,
  value: V,
  expired: (value: V, now: number) => boolean,
): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= MAX_LOCAL_ENTRIES) return;
  const writes = (overflowWrites.get(map) ?? 0) + 1;
  overflowWrites.set(map, writes);
  if (writes >= SWEEP_EVERY) {
    overflowWrites.set(map, 0);
    const t = Date.now();
    for (const [k, v] of map) if (expired(v, t)) map.delete(k);
  }
  // Still over: the oldest written goes (the first key of the map), one per write.
  if (map.size > MAX_LOCAL_ENTRIES) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

function bindAll(store: Store): Store {
  return {
    name: store.name,
    shared: store.shared,
    set: store.set.bind(store),
    get: store.get.bind(store),
    delete: store.delete.bind(store),
    take: store.take.bind(store),
    limit: store.limit.bind(store),
    acquireLease: store.acquireLease.bind(store),
    renewLeases: store.renewLeases.bind(store),
    releaseLease: store.releaseLease.bind(store),
    countLeases: store.countLeases.bind(store),
    addScore: store.addScore.bind(store),
    ...(store.takeWithTtl ? { takeWithTtl: store.takeWithTtl.bind(store) } : {}),
    ...(store.publish ? { publish: store.publish.bind(store) } : {}),
    ...(store.subscribe ? { subscribe: store.subscribe.bind(store) } : {}),
    ...(store.close ? { close: store.close.bind(store) } : {}),
  };
}
