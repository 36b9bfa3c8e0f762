/**
 * Connection caps as leases in the store: one lease per connection in the set of its IP key and
 * one in its user's, so the caps hold across instances and a crashed instance's leases expire.
 * A lease taken by a connection that closed meanwhile is given back at once.
 *
 * @module
 */

import { CloseCode } from '../core/codes.ts';
import { Lanes } from '../core/lanes.ts';
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
  const { store } = ctx;
  const reportClose = ctx.report('close');
  const keep = keeperOf(store, reportClose);
  const releaseAll = releaserOf(store, reportClose);
  const releaseSince = (c: ConnectionState, held: number): Promise<void> => {
    if (c.leases.length <= held) return DONE;
    const taken = c.leases.slice(held);
    c.leases = c.leases.slice(0, held);
    return Promise.all(taken.map(([k, id]) => store.releaseLease(k, id).catch(reportClose))).then(
      noop,
    );
  };

  return {
    acquire: acquirerOf(ctx, leaseSteps(ctx, keep), releaseSince),
    releaseSince,
    releaseAll,
  };
}

/**
 * `Caps.acquire`. Both steps are sent before either is awaited, and each is awaited into a
 * variable of its own: no `Promise.allSettled` and its arrays of results on every handshake.
 */
function acquirerOf(
  ctx: GuardContext,
  steps: ReturnType<typeof leaseSteps>,
  releaseSince: Caps['releaseSince'],
): Caps['acquire'] {
  const { dryRun, ipCap, userCap, singleSession } = ctx.settings;
  const { takeIp, settleIp, takeUser, settleUser } = steps;
  return async (c, userId, withIp) => {
    const ip = withIp ? ipCap : undefined;
    const user = userId !== undefined ? userCap : undefined;
    const held = c.leases.length;
    // Both leases in one round trip. Evicting the user's oldest session is not undone by a
    // release, so with single sessions the IP's lease is settled first.
    const evicts = singleSession && !dryRun && ip !== undefined && user !== undefined;
    const ipKey = ip !== undefined ? `lease:ip:${c.ipKey}` : '';
    const userKey = user !== undefined ? `lease:user:${userId}` : '';
    const ipStep = ip !== undefined ? takeIp(ipKey, c, ip) : undefined;
    const userStep = user !== undefined && !evicts ? takeUser(userKey, c, user) : undefined;
    // Read after the IP's: a rejection meanwhile must not count as unhandled.
    if (ipStep && userStep) userStep.catch(noop);
    let rIp: LeaseResult | undefined;
    let rUser: LeaseResult | undefined;
    let failed = false;
    let failure: unknown;
    if (ipStep)
      try {
        rIp = await ipStep;
      } catch (error) {
        failed = true;
        failure = error;
      }
    if (userStep)
      try {
        rUser = await userStep;
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    // Keep what was granted first, so that a refusal or an error below gives all of it back.
    // A settle step is a promise only when there is something to wait for (`c` closed meanwhile).
    const keptIp = rIp && settleIp(ipKey, c, rIp);
    if (keptIp) await keptIp;
    const keptUser = rUser && settleUser(userKey, c, userId!, rUser);
    if (keptUser) await keptUser;
    if (failed) {
      await releaseSince(c, held);
      throw failure;
    }
    const refused = rIp && !rIp.ok ? 'ip_cap' : rUser && !rUser.ok ? 'user_cap' : undefined;
    if (refused !== undefined && !dryRun) {
      await releaseSince(c, held);
      return refused;
    }
    if (!evicts) return undefined;
    const r = await takeUser(userKey, c, user);
    if (!r.ok) {
      await releaseSince(c, held);
      return 'user_cap';
    }
    const kept = settleUser(userKey, c, userId!, r);
    if (kept) await kept;
    return undefined;
  };
}

/** Taking the IP's and the user's lease, and settling each result (keep, evict, audit). */
function leaseSteps(
  ctx: GuardContext,
  keep: (c: ConnectionState, key: string) => Promise<void> | undefined,
) {
  const { store, audit, registry, settings } = ctx;
  const { dryRun, leaseTtl } = settings;
  // One object for every call: evicting is enforcing, so in dry-run the full cap is only
  // audited, like any other cap.
  const userOptions = { evictOldest: settings.singleSession && !dryRun };
  // Each step is given its set's key, built once per acquisition: the store's lookup and the
  // kept lease then share one string (and its hash), not two equal ones.
  return {
    takeIp: (key: string, c: ConnectionState, max: number): Promise<LeaseResult> =>
      store.acquireLease(key, c.id, max, leaseTtl),
    settleIp: (key: string, c: ConnectionState, r: LeaseResult): Promise<void> | undefined => {
      if (r.ok) return keep(c, key);
      // Refused for real, the handshake's refusal is the audit; in dry-run, this is.
      if (dryRun)
        audit({ type: 'limit.exceeded', ip: c.ip, reason: 'ip_cap', dryRun, connectionId: c.id });
      return undefined;
    },
    takeUser: (key: string, c: ConnectionState, max: number): Promise<LeaseResult> =>
      store.acquireLease(key, c.id, max, leaseTtl, userOptions),
    /** Keep a granted user lease, end the session it evicted, audit a dry-run refusal. */
    settleUser: (
      key: string,
      c: ConnectionState,
      userId: string,
      r: LeaseResult,
    ): Promise<void> | undefined => {
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
      return keep(c, key);
    },
  };
}

/** Lease releases sent at once (see {@link releaserOf}). */
const RELEASES_IN_FLIGHT = 64;

/** Release every lease of a connection; never rejects (failures are reported). */
function releaserOf(
  store: GuardContext['store'],
  reportClose: (error: unknown) => void,
): (c: ConnectionState) => Promise<void> {
  // At most 64 releases at once: an instance dropping every socket at once (a restart, a storm)
  // would otherwise send them all in one burst, and the last would time out behind the others,
  // leaving their leases to count until their TTL.
  const lanes = new Lanes(RELEASES_IN_FLIGHT);
  const release = ([key, id]: Lease): Promise<void> =>
    lanes.run(() => store.releaseLease(key, id), reportClose);
  return (c) => {
    const leases = c.leases;
    c.leases = NO_LEASES;
    // Not async, and no Promise.all for the usual one or two leases (the IP's, the user's): this
    // runs on every close. Both are sent at once; neither rejects, so one waits for the other.
    if (leases.length === 0) return DONE;
    if (leases.length === 1) return release(leases[0]!);
    if (leases.length === 2) {
      const first = release(leases[0]!);
      const second = release(leases[1]!);
      return first.then(() => second);
    }
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
    // Literals for the usual first and second lease: `concat` is a runtime call (0.26 µs for
    // both against 0.03: `npx tsx bench/array-copies.ts`).
    const lease: Lease = [key, c.id];
    const held = c.leases;
    c.leases =
      held.length === 0 ? [lease] : held.length === 1 ? [held[0]!, lease] : held.concat([lease]);
    return undefined;
  };
}
