/**
 * The builders of frame decisions, so every refusal is counted and audited the same way: a close
 * carries the contract's code for its reason, a reply an error frame; both are one
 * `message.rejected` event. A close decision moves the connection to `closing`.
 *
 * @module
 */
import { MESSAGE_CLOSE_CODES, type MessageRejectReason } from '../core/codes.ts';
import type { RuntimeViolation } from '../core/runtime-violation.ts';
import type { AuditEvent } from '../observability/audit.ts';
import { type ConnectionState, enterPhase } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { ErrorReply, MessageDecision } from './decision.ts';

/** Decision builders of one guard. */
export interface Verdicts {
  /** Count and audit one refused message; `closeCode` when the connection closes for it. */
  rejected(
    c: ConnectionState,
    reason: MessageRejectReason | RuntimeViolation['reason'],
    closeCode?: number,
    detail?: AuditEvent['detail'],
  ): void;
  /** Close for `reason`, with the contract's code. */
  close(c: ConnectionState, reason: MessageRejectReason, message?: string): MessageDecision;
  /**
   * Refuse the frame with an error reply; `audited` when the caller already emitted this
   * decision's event (permission.denied): one event per decision.
   */
  reply(
    c: ConnectionState,
    reason: MessageRejectReason,
    error: ErrorReply['error'],
    audited?: boolean,
  ): MessageDecision;
  /** Hand `value` to the app. */
  deliver(value: unknown): MessageDecision;
}

/** The decision builders of one guard. */
export function createVerdicts(ctx: GuardContext): Verdicts {
  const { stats, audit, auditing } = ctx;
  const rejected: Verdicts['rejected'] = (c, reason, closeCode, detail) => {
    stats.messageRejected(reason);
    if (auditing)
      audit({
        type: 'message.rejected',
        connectionId: c.id,
        ip: c.ip,
        ...(c.principal ? { userId: c.principal.sub } : {}),
        reason,
        ...(closeCode !== undefined ? { closeCode } : {}),
        ...(detail ? { detail } : {}),
      });
  };
  return {
    rejected,
    close(c, reason, message) {
      const code = MESSAGE_CLOSE_CODES[reason];
      rejected(c, reason, code);
      enterPhase(c, 'closing');
      return { action: 'close', reason, code, message: message ?? reason.replace(/_/g, ' ') };
    },
    reply(c, reason, error, audited = false) {
      if (audited) stats.messageRejected(reason);
      else rejected(c, reason);
      return { action: 'reply', reason, reply: { error } };
    },
    deliver(value) {
      stats.delivered();
      return { action: 'deliver', value };
    },
  };
}
