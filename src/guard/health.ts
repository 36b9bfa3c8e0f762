/**
 * Readiness: whether this instance should get traffic. Its store must answer (a bounded read of
 * one key, timed, on the store itself rather than a local fallback, which would answer for a store
 * that is down) and it must not be shutting down. Liveness (the process answers at all) needs
 * none of this: see `healthHandler`. The probe's outcome is kept in the stats, so `/metrics` shows
 * the store's latency and whether it was up at the last probe.
 *
 * @module
 */
import type { Stats } from '../observability/stats.ts';
import type { Store } from '../store/contract.ts';

/** What a readiness probe found. */
export interface GuardHealth {
  /** Whether the instance should get traffic: its store answered and it is not shutting down. */
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: 'store unavailable' | 'shutting down';
  /** The store as probed. */
  readonly store: {
    /** The store's name (`memory`, `redis`, …). */
    readonly name: string;
    /** Whether instances share it. */
    readonly shared: boolean;
    /** Whether it answered the probe. */
    readonly up: boolean;
    /** How long the probe took, in ms (to the failure, when it failed). */
    readonly latencyMs: number;
  };
}

// A key nobody writes: reading it costs the store one lookup and changes nothing.
const PROBE_KEY = 'health:probe';

/** The readiness probe of a guard on `store`, counted in `stats`; `closing` says it shuts down. */
export function createHealth(
  store: Store,
  stats: Stats,
  closing: () => boolean,
): () => Promise<GuardHealth> {
  return async () => {
    const started = performance.now();
    let up = true;
    try {
      await store.get(PROBE_KEY);
    } catch {
      up = false;
    }
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    stats.storeChecked(up, latencyMs);
    const shuttingDown = closing();
    const storeState = { name: store.name, shared: store.shared, up, latencyMs };
    if (shuttingDown) return { ready: false, reason: 'shutting down', store: storeState };
    if (!up) return { ready: false, reason: 'store unavailable', store: storeState };
    return { ready: true, store: storeState };
  };
}
