/**
 * Connection caps as leases in the store: one lease per connection in the set of its IP key and
 * one in its user's, so the caps hold across instances and a crashed instance's leases expire.
 * A lease taken by a connection that closed meanwhile is given back at once.
 *
 * @module
 */
import { CloseCode } from '../core/codes.ts';
import type { ConnectionState } from './connection.ts';
import type { GuardContext } from './context.ts';

const DONE: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** Taking and giving back a connection's leases. */
export interface Caps {
  /**
   * IP lease then user lease; on a refusal, release what this call took (and only that: a live
   * connection authenticating later keeps the IP lease it holds).
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
  const { store, audit, registry, settings } = ctx;
  const { dryRun, ipCap, userCap, leaseTtl } = settings;
  const reportClose = ctx.report('close');

  const keep = keeperOf(store, reportClose);

  const releaseAll = releaserOf(ctx.store, reportClose);

  const acquireUser = async (
    c: ConnectionState,
    userId: string,
    max: number,
    takeIp: boolean,
  ): Promise<'user_cap' | undefined> => {
    const key = `lease:user:${userId}`;
    const r = await store.acquireLease(key, c.id, max, leaseTtl, {
      // Evicting is enforcing: in dry-run the full cap is only audited, like any other cap.
      evictOldest: settings.singleSession && !dryRun,
    });
    if (!r.ok && !dryRun) {
      if (takeIp) await releaseAll(c);
      return 'user_cap';
    }
    if (r.ok) {
      const giveBack = keep(c, key);
      if (giveBack) await giveBack;
    } else
      audit({
        type: 'limit.exceeded',
        ip: c.ip,
        userId,
        reason: 'user_cap',
        dryRun,
        connectionId: c.id,
      });
    if (r.evicted !== undefined) {
      const old = registry.live.get(r.evicted);
      audit({
        type: 'connection.evicted',
        connectionId: r.evicted,
        userId,
        reason: 'single_session',
      });
      old?.terminate?.(CloseCode.TooManyConnections, 'replaced by a newer session');
    }
    return undefined;
  };

  return {
    async acquire(c, userId, takeIp) {
      if (takeIp && ipCap !== undefined) {
        const key = `lease:ip:${c.ipKey}`;
        const r = await store.acquireLease(key, c.id, ipCap, leaseTtl);
        if (!r.ok && !dryRun) return 'ip_cap';
        if (r.ok) {
          const giveBack = keep(c, key);
          if (giveBack) await giveBack;
        } else
          audit({ type: 'limit.exceeded', ip: c.ip, reason: 'ip_cap', dryRun, connectionId: c.id });
      }
      if (userId !== undefined && userCap !== undefined)
        return acquireUser(c, userId, userCap, takeIp);
      return undefined;
    },
    releaseSince(c, held) {
      if (c.leases.length <= held) return DONE;
      const taken = c.leases.splice(held);
      return Promise.all(taken.map(([k, id]) => store.releaseLease(k, id).catch(reportClose))).then(
        noop,
      );
    },
    releaseAll,
  };
}

/** Release every lease of a connection; never rejects (failures are reported). */
function releaserOf(
  store: GuardContext['store'],
  reportClose: (error: unknown) => void,
): (c: ConnectionState) => Promise<void> {
  return (c) => {
    const leases = c.leases;
    c.leases = [];
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
    c.leases.push([key, c.id]);
    return undefined;
  };
}
