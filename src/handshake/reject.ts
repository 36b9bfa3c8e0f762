/**
 * A refused handshake: counted, audited, penalized when the refusal is a violation, and answered
 * with the contract's status or close code for its reason (`rejectModes` may change how).
 *
 * @module
 */
import { REJECTIONS, type RejectMode, type RejectReason } from '../core/codes.ts';
import type { GuardContext } from '../state/context.ts';
import type { Penalize } from '../state/penalize.ts';
import type { Violation } from '../state/penalties.ts';
import type { Reject } from './decision.ts';

/** What the handshake knows of the client, for the refusal's event and answer. */
export interface HandshakeFacts {
  ip: string;
  origin: string | null;
  userAgent: string | undefined;
  url: string;
  protocol: string | undefined;
}

/** How one refusal differs from its reason's row of the contract. */
export interface RejectExtra {
  retryAfter?: number;
  message?: string;
  userId?: string;
  violation?: Violation;
  mode?: RejectMode;
}

/** Refuse a handshake for `reason`. */
export type RejectHandshake = (
  reason: RejectReason,
  base: HandshakeFacts,
  extra?: RejectExtra,
) => Reject;

/** The handshake refusals of one guard. */
export function createReject(ctx: GuardContext, penalize: Penalize): RejectHandshake {
  const { stats, audit, settings, keyOfIp } = ctx;
  return (reason, base, extra = {}) => {
    const row = REJECTIONS[reason];
    const mode = settings.rejectModes?.[reason] ?? extra.mode ?? row.mode;
    stats.rejected(reason);
    audit({
      type: 'connection.rejected',
      ip: base.ip,
      origin: base.origin,
      ...(base.userAgent !== undefined ? { userAgent: base.userAgent } : {}),
      url: base.url,
      ...(extra.userId !== undefined ? { userId: extra.userId } : {}),
      reason,
      status: row.status,
      closeCode: row.closeCode,
    });
    if (extra.violation) penalize('ip', keyOfIp(base.ip), extra.violation, base);
    return {
      ok: false,
      reason,
      status: row.status,
      closeCode: row.closeCode,
      message: extra.message ?? row.message,
      mode,
      retryAfter: extra.retryAfter,
      protocol: base.protocol,
    };
  };
}
