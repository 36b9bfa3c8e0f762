/**
 * `wsguard/client`: connect to a guarded socket from a browser, Node, Bun or Deno, obeying the
 * close-code contract. No runtime APIs: only `WebSocket`, `fetch` and timers.
 *
 * @module
 */

export {
  type FeedResumeLinkOptions,
  feedErrorCode,
  feedResumeLink,
} from './client/feed-resume.ts';
export { MessageTooLargeError } from './client/frame-limit.ts';
export {
  type BackoffOptions,
  backoffDelay,
  banEnd,
  type CloseAction,
  closeAction,
  retryHintMs,
  tokenExpiry,
} from './client/policy.ts';
export type { RetryLimits } from './client/retry-budget.ts';
export { type ClientStop, ClientStoppedError } from './client/stop.ts';
export { fetchTicket, TicketError } from './client/ticket.ts';
export {
  type AuthStop,
  createGuardedWSClient,
  type GuardedWSClient,
  type GuardedWSClientOptions,
} from './client/ws-client.ts';
export {
  FeedErrorCode,
  type FeedErrorCodeValue,
} from './core/feed-error-codes.ts';
