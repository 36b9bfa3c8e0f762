/**
 * The rate-limit failure policy. By default the guard fails closed when its store is unreachable:
 * every handshake is refused with 503. With `limits.onStoreError: 'local'`, rate limits and ban
 * lookups fall back to this process's own state while the store is down — the connection rate is
 * then enforced per instance instead of cluster-wide, and only bans held in memory here apply —
 * so a Redis outage does not take the whole service down. Tickets, caps and everything else still
 * fail closed: a ticket redeemed without the shared store could be redeemed twice.
 *
 * @module
 */
import { type LimitResult, LocalLimiter, type RateRule } from '../rate-limit.ts';
import type { Store } from './types.ts';

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
      // Bans are remembered here too, so they still hold on this instance during an outage.
      if (key.startsWith('ban:')) localBans.set(key, { value, expiresAt: Date.now() + ttlMs });
      await store.set(key, value, ttlMs);
    },
    async get(key: string): Promise<string | undefined> {
      try {
        return await store.get(key);
      } catch (error) {
        if (!key.startsWith('ban:')) throw error;
        onFallback('ban lookup', error);
        const local = localBans.get(key);
        return local && local.expiresAt > Date.now() ? local.value : undefined;
      }
    },
  };
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
    ...(store.close ? { close: store.close.bind(store) } : {}),
  };
}
