/**
 * Lease renewal: while this instance holds connections, their leases are renewed every
 * `leaseTtlMs / 3`, so a crashed instance's leases expire and its connections stop counting.
 * Lease sets whose last renewal failed may have expired meanwhile (an outage longer than the TTL,
 * or a Redis restart that lost them), and a renewal never revives an expired lease, so the caps
 * would under-count these connections until they close: once the store answers again, their
 * leases are taken again instead, where the cap has room.
 *
 * @module
 */
import { Lanes } from '../core/lanes.ts';
import type { GuardContext } from './context.ts';

/** How long the sentinel outlives the last renewal that wrote it. */
const SENTINEL_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Lease sets renewed at once. All in one burst, they queue behind each other on the store's
 * connection, and on a busy instance the last outlive the command timeout and fail (the caps then
 * under-count): at 64 in flight, 20,000 sets at ~0.1 ms each take ~30 ms of a 10 s interval.
 */
const RENEWALS_IN_FLIGHT = 64;

/** The renewal timer of one guard. */
export interface LeaseRenewal {
  /** Start the timer (idempotent): at the first accepted connection. */
  start(): void;
  /** Stop the timer when no connection is left. */
  stopIfIdle(): void;
  /** Stop the timer. */
  stop(): void;
}

/** The renewal of one guard; `onTick` also runs at every renewal (the ban poll). */
export function createLeaseRenewal(ctx: GuardContext, onTick: () => void): LeaseRenewal {
  const { store, registry, settings } = ctx;
  const { leaseTtl } = settings;
  const failedReport = ctx.report('lease-renewal');
  const renewalFailed = new Set<string>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const lostData = createLossCheck(store, ctx.instanceId);

  const renewKeys = createSetRenewal(ctx, renewalFailed, failedReport);

  // A round still running when the next tick comes (a slow store): that tick is skipped, so
  // renewals never pile up on a store that is already behind.
  let running = false;
  const renew = (): void => {
    onTick();
    if (running) return;
    running = true;
    const byKey = new Map<string, string[]>();
    for (const c of registry.live.values()) {
      for (const [key, id] of c.leases) {
        const ids = byKey.get(key) ?? [];
        ids.push(id);
        byKey.set(key, ids);
      }
    }
    // A store that lost its data between two renewals: every lease set is taken again. A failing
    // check is an outage: the renewals fail too, and are retried as reacquisitions.
    const next = () => renewKeys(byKey);
    Promise.resolve()
      .then(() => lostData(() => markAll(renewalFailed, byKey.keys())))
      .then(next, next)
      .catch(failedReport)
      .finally(() => {
        running = false;
      });
  };

  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  return {
    start() {
      if (timer !== undefined) return;
      timer = setInterval(renew, Math.max(1000, Math.floor(leaseTtl / 3)));
      // Never keep a process alive just to renew leases.
      (timer as { unref?: () => void }).unref?.();
    },
    stopIfIdle() {
      if (registry.live.size === 0) stop();
    },
    stop,
  };
}

/**
 * The renewal of lease sets: each renewed, or taken again where its last renewal failed (it may
 * have expired meanwhile; a renewal never revives an expired lease), at most
 * `RENEWALS_IN_FLIGHT` at once.
 */
function createSetRenewal(
  ctx: GuardContext,
  renewalFailed: Set<string>,
  failedReport: (error: unknown) => void,
): (byKey: Map<string, string[]>) => Promise<void> {
  const { store, registry, settings } = ctx;
  const { leaseTtl, ipCap, userCap } = settings;
  const reacquire = (key: string, ids: readonly string[]): Promise<unknown> => {
    const max = key.startsWith('lease:ip:') ? ipCap : userCap;
    if (max === undefined) return Promise.resolve();
    return Promise.all(
      ids.map(async (id) => {
        await store.acquireLease(key, id, max, leaseTtl);
        // Closed while this was in flight: its release may have run first; release again.
        if (!registry.live.has(id)) await store.releaseLease(key, id);
      }),
    );
  };

  /** Renew (or take again) one lease set; never rejects. */
  const renewKey = (key: string, ids: readonly string[]): Promise<unknown> => {
    const failed = (error: unknown) => {
      renewalFailed.add(key);
      failedReport(error);
    };
    // A synchronous throw (the memory store calls the guard's clock) must be caught here, not
    // become an uncaught exception in a timer.
    try {
      if (renewalFailed.has(key))
        return reacquire(key, ids).then(() => renewalFailed.delete(key), failed);
      return store.renewLeases(key, ids, leaseTtl).catch(failed);
    } catch (error) {
      failed(error);
      return Promise.resolve();
    }
  };

  /** Every lease set of `byKey`, at most `RENEWALS_IN_FLIGHT` at once. */
  const lanes = new Lanes(RENEWALS_IN_FLIGHT);
  const renewKeys = async (byKey: Map<string, string[]>): Promise<void> => {
    for (const key of renewalFailed) if (!byKey.has(key)) renewalFailed.delete(key);
    await Promise.all(
      [...byKey].map(([key, ids]) => lanes.run(() => renewKey(key, ids), failedReport)),
    );
  };
  return renewKeys;
}

/**
 * A store that lost its data between two renewals (a Redis restart without persistence, a
 * failover to an empty replica) answers every renewal, but renewing a lost lease does nothing: the
 * caps would under-count those connections until they close. This instance's sentinel in the
 * store tells: gone after it was written, `onLost` runs (the caller takes every lease set again;
 * an acquire of a lease still there only extends it).
 */
function createLossCheck(
  store: GuardContext['store'],
  instanceId: string,
): (onLost: () => void) => Promise<unknown> {
  const sentinel = `alive:${instanceId}`;
  let armed = false;
  return (onLost) =>
    store.get(sentinel).then((alive) => {
      if (alive === undefined && armed) onLost();
      armed = true;
      return store.set(sentinel, '1', SENTINEL_TTL_MS);
    });
}

/** Mark every key of `keys` as failed: its lease set is taken again. */
function markAll(failed: Set<string>, keys: Iterable<string>): void {
  for (const key of keys) failed.add(key);
}
