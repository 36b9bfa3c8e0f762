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
  return async (c, code, by = 'client') => {
    if (c.closed) return;
    enterPhase(c, 'closed');
    deadlines.clear(c);
    registry.live.delete(c.id);
    renewal.stopIfIdle();
    const sub = c.principal?.sub;
    stats.closed(sub);
    if (code !== undefined) stats.closedWith(code, by);
    if (sub !== undefined && registry.removeUser(sub)) userLimiter?.delete(sub);
    try {
      await caps.releaseAll(c);
    } catch (error) {
      reportClose(error);
    }
    if (auditing)
      audit({
        type: 'connection.closed',
        connectionId: c.id,
        ip: c.ip,
        ...(sub !== undefined ? { userId: sub } : {}),
        ...(code !== undefined ? { closeCode: code } : {}),
        detail: { durationMs: now() - c.connectedAt, by },
      });
  };
}
