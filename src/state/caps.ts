/**
 * Connection caps as leases in the store: one lease per connection in the set of its IP key and
 * one in its user's, so the caps hold across instances and a crashed instance's leases expire.
 * A lease taken by a connection that closed meanwhile is given back at once.
 *
 * @module
 */
import { CloseCode } from '../core/codes.ts';
import type { LeaseResult } from '../store/contract.ts';
import { type ConnectionState, type Lease, NO_LEASES } from './connection.ts';
import type { GuardContext } from './context.ts';

const DONE: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** Taking and giving back a connection's leases. */
export interface Caps {
  /**
   * The IP's lease and the user's, in one round trip (in turn when taking the user's evicts an
   * older session); on a refusal or a store error, release what this call took (and only that:
   * a live connection authenticating later keeps the IP lease it holds). `ip_cap` wins over
   * `user_cap` when both are full.
   */
  acquire(
    c: ConnectionState,
    userId: string | undefined,
    takeIp: boolean,
  ): Promise<'ip_cap' | 'user_cap' | undefined>;
  /** Release the leases of `c` taken since it held `held` of them. */
  releaseSince(c: ConnectionState, held: number): Promise<void>;
  /** Release every lease of `c`. Never rejects. */
  releaseAll(c: ConnectionState): Promise<void>;
}

/** The caps of one guard. */
export function createCaps(ctx: GuardContext): Caps {
  const { store, settings } = ctx;
  const { dryRun, ipCap, userCap } = settings;
  const reportClose = ctx.report('close');
  const keep = keeperOf(store, reportClose);
  const releaseAll = releaserOf(ctx.store, reportClose);
  const { takeIp, settleIp, takeUser, settleUser } = leaseSteps(ctx, keep);
  const releaseSince = (c: ConnectionState, held: number): Promise<void> => {
    if (c.leases.length <= held) return DONE;
    const taken = c.leases.slice(held);
    c.leases = c.leases.slice(0, held);
    return Promise.all(taken.map(([k, id]) => store.releaseLease(k, id).catch(reportClose))).then(
      noop,
    );
  };

  return {
    async acquire(c, userId, withIp) {
      const ip = withIp ? ipCap : undefined;
      const user = userId !== undefined ? userCap : undefined;
      const held = c.leases.length;
      // Both leases in one round trip. Evicting the user's oldest session is not undone by a
      // release, so with single sessions the IP's lease is settled first.
      const evicts = settings.singleSession && !dryRun && ip !== undefined && user !== undefined;
      const [rIp, rUser] = await Promise.allSettled([
        ip !== undefined ? takeIp(c, ip) : undefined,
        user !== undefined && !evicts ? takeUser(c, userId!, user) : undefined,
      ]);
      // Keep what was granted first, so that a refusal or an error below gives all of it back.
      if (rIp.status === 'fulfilled' && rIp.value) await settleIp(c, rIp.value);
      if (rUser.status === 'fulfilled' && rUser.value) await settleUser(c, userId!, rUser.value);
      const failed = [rIp, rUser].find((r) => r.status === 'rejected');
      if (failed) {
        await releaseSince(c, held);
        throw failed.reason;
      }
      const refused = refusedBy(rIp, 'ip_cap') ?? refusedBy(rUser, 'user_cap');
      if (refused !== undefined && !dryRun) {
        await releaseSince(c, held);
        return refused;
      }
      if (!evicts) return undefined;
      const r = await takeUser(c, userId!, user);
      if (!r.ok) {
        await releaseSince(c, held);
        return 'user_cap';
      }
      await settleUser(c, userId!, r);
      return undefined;
    },
    releaseSince,
    releaseAll,
  };
}

/** `reason` when the settled lease step was refused. */
function refusedBy<R extends 'ip_cap' | 'user_cap'>(
  settled: PromiseSettledResult<LeaseResult | undefined>,
  reason: R,
): R | undefined {
  return settled.status === 'fulfilled' && settled.value && !settled.value.ok ? reason : undefined;
}

/** Taking the IP's and the user's lease, and settling each result (keep, evict, audit). */
function leaseSteps(
  ctx: GuardContext,
  keep: (c: ConnectionState, key: string) => Promise<void> | undefined,
) {
  const { store, audit, registry, settings } = ctx;
  const { dryRun, leaseTtl } = settings;
  const userKeyOf = (userId: string): string => `lease:user:${userId}`;
  return {
    takeIp: (c: ConnectionState, max: number): Promise<LeaseResult> =>
      store.acquireLease(`lease:ip:${c.ipKey}`, c.id, max, leaseTtl),
    settleIp: (c: ConnectionState, r: LeaseResult): Promise<void> | undefined => {
      if (r.ok) return keep(c, `lease:ip:${c.ipKey}`);
      // Refused for real, the handshake's refusal is the audit; in dry-run, this is.
      if (dryRun)
        audit({ type: 'limit.exceeded', ip: c.ip, reason: 'ip_cap', dryRun, connectionId: c.id });
      return undefined;
    },
    takeUser: (c: ConnectionState, userId: string, max: number): Promise<LeaseResult> =>
      store.acquireLease(userKeyOf(userId), c.id, max, leaseTtl, {
        // Evicting is enforcing: in dry-run the full cap is only audited, like any other cap.
        evictOldest: settings.singleSession && !dryRun,
      }),
    /** Keep a granted user lease, end the session it evicted, audit a dry-run refusal. */
    settleUser: (c: ConnectionState, userId: string, r: LeaseResult): Promise<void> | undefined => {
      if (!r.ok) {
        const { ip, id: connectionId } = c;
        if (dryRun)
          audit({ type: 'limit.exceeded', ip, userId, reason: 'user_cap', dryRun, connectionId });
        return undefined;
      }
      if (r.evicted !== undefined) {
        const old = registry.live.get(r.evicted);
        const connectionId = r.evicted;
        audit({ type: 'connection.evicted', connectionId, userId, reason: 'single_session' });
        old?.terminate?.(CloseCode.TooManyConnections, 'replaced by a newer session');
      }
      return keep(c, userKeyOf(userId));
    },
  };
}

/** Release every lease of a connection; never rejects (failures are reported). */
function releaserOf(
  store: GuardContext['store'],
  reportClose: (error: unknown) => void,
): (c: ConnectionState) => Promise<void> {
  return (c) => {
    const leases = c.leases;
    c.leases = NO_LEASES;
    // Not async, and no Promise.all for the usual one lease: this runs on every close.
    if (leases.length === 0) return DONE;
    const release = ([key, id]: readonly [string, string]): Promise<void> =>
      store.releaseLease(key, id).catch(reportClose);
    if (leases.length === 1) return release(leases[0]!);
    return Promise.all(leases.map(release)).then(noop);
  };
}

/**
 * Keep a lease taken for `c`, or give it back when `c` closed while it was taken (close() has
 * already given back what it held). A promise only then: the usual keep costs no await.
 */
function keeperOf(
  store: GuardContext['store'],
  reportClose: (error: unknown) => void,
): (c: ConnectionState, key: string) => Promise<void> | undefined {
  return (c, key) => {
    if (c.closed) return store.releaseLease(key, c.id).catch(reportClose);
    // A new array of exactly the new length (see NO_LEASES); a lease is taken once a handshake.
    const lease: Lease = [key, c.id];
    c.leases = c.leases.concat([lease]);
    return undefined;
  };
}
