/**
 * The stop a server's refusal means: a close code of the contract's "stop" group, or a ban
 * answered by the ticket endpoint.
 *
 * @module
 */
import { retryHintMs } from './policy.ts';
import type { ClientStop } from './stop.ts';
import type { TicketError } from './ticket.ts';

/** The stop after a close whose action is `stop` (4001, 4003, 4030, 1008, 1009). */
export function closeStop(code: number, reason: string): ClientStop {
  // A relative hint (`retry after Ns`) wins over the ISO end: this clock may be skewed.
  const now = Date.now();
  const wait = code === 4030 ? retryHintMs(reason, now) : undefined;
  const until = wait !== undefined ? now + wait : undefined;
  return {
    kind: code === 4030 ? 'banned' : code === 1009 ? 'too-big' : 'refused',
    code,
    reason,
    ...(until !== undefined ? { until } : {}),
  };
}

/** The stop after the ticket endpoint answered `BANNED`: like a 4030. */
export function ticketBanStop(error: TicketError): ClientStop {
  return {
    kind: 'banned',
    code: 4030,
    reason: error.message,
    ...(error.until !== undefined ? { until: error.until } : {}),
    error,
  };
}
