/**
 * The end of a connection as the guard sees it: out of the registry, its timer cleared, its
 * leases given back, counted and audited — once, whoever closes first (the client, the guard,
 * the app, the runtime).
 *
 * @module
 */

import type { CloseInitiator } from '../observability/stats.ts';
import type { Caps } from './caps.ts';
import { type ConnectionState, enterPhase } from './connection.ts';
import type { GuardContext } from './context.ts';
import type { Deadlines } from './deadlines.ts';
import type { LeaseRenewal } from './lease-renewal.ts';
import type { UserRateLimiter } from './shared-user-rate.ts';

const DONE: Promise<void> = Promise.resolve();

/** Release `c`; `code` is the close code when known, `by` who closed. Never rejects. */
export type Release = (c: ConnectionState, code?: number, by?: CloseInitiator) => Promise<void>;

/** The release of one guard. */
export function createRelease(
  ctx: GuardContext,
  parts: {
    caps: Caps;
    deadlines: Deadlines;
    renewal: LeaseRenewal;
    userLimiter: UserRateLimiter | undefined;
  },
): Release {
  const { registry, stats, audit, auditing, now } = ctx;
  const { caps, deadlines, renewal, userLimiter } = parts;
  const reportClose = ctx.report('close');
  /** Every lease of `c` given back; a throw is reported like a failed release (never rejects). */
  const releaseAll = (c: ConnectionState): Promise<void> => {
    try {
      return caps.releaseAll(c);
    } catch (error) {
      reportClose(error);
      return DONE;
    }
  };
  // Not an async function: on every close, the usual path (nothing to audit, leases given back
  // by the store's step) is the releases' own promise, without a frame and an await on top.
  return (c, code, by = 'client') => {
    if (c.closed) return DONE;
    let sub: string | undefined;
    let released: Promise<void>;
    try {
      enterPhase(c, 'closed');
      deadlines.clear(c);
      registry.live.delete(c.id);
      renewal.stopIfIdle();
      sub = c.principal?.sub;
      stats.closed(sub);
      if (code !== undefined) stats.closedWith(code, by);
      if (sub !== undefined && registry.removeUser(sub)) userLimiter?.delete(sub);
      released = releaseAll(c);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!auditing) return released;
    const userId = sub;
    return released.then(() =>
      audit({
        type: 'connection.closed',
        connectionId: c.id,
        ip: c.ip,
        ...(userId !== undefined ? { userId } : {}),
        ...(code !== undefined ? { closeCode: code } : {}),
        detail: { durationMs: now() - c.connectedAt, by },
      }),
    );
  };
}
