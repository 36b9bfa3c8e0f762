/**
 * The message decision, on the hot path: every inbound frame passes the connection's state
 * (closed, banned, expired, auth deadline, authenticating), the size limit, both rate limits,
 * then the passthrough set, the JSON parse (once; the value is handed over) and the schema and
 * authorization checks — or, on a pending connection, first-message authentication. Synchronous
 * unless a check is async; nothing is allocated per frame beyond the parse and the decision.
 *
 * @module
 */
import { bannedReason } from '../core/ban-reason.ts';
import type { MessageRejectReason } from '../core/codes.ts';
import { tryStep } from '../core/rate-limit.ts';
import type { ConnectionState, GuardConnection } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { Penalize } from '../state/penalize.ts';
import type { UserRateLimiter } from '../state/shared-user-rate.ts';
import type { CheckMessage } from './authorize.ts';
import type { MessageDecision } from './decision.ts';
import type { Authenticate } from './first-message.ts';
import { frameBytes, parseFrame, type ReportedIssue } from './parse.ts';
import type { RateRefusals } from './rate-refusals.ts';
import type { Verdicts } from './verdicts.ts';

/** Decide one inbound frame (`guard.message`). Never throws. */
export type DecideMessage = (
  connection: GuardConnection,
  frame: string | ArrayBuffer | ArrayBufferView,
) => MessageDecision | Promise<MessageDecision>;

/** An invalid message: reply, or close with 1008 once they repeat. */
export function createInvalid(
  maxInvalid: number,
  verdicts: Verdicts,
  penalize: Penalize,
): (
  c: ConnectionState,
  reason: MessageRejectReason,
  issues?: readonly ReportedIssue[],
) => MessageDecision {
  return (c, reason, issues) => {
    penalize('ip', c.ipKey, 'malformed', c);
    if (++c.invalid >= maxInvalid) return verdicts.close(c, 'repeated_invalid');
    return verdicts.reply(c, reason, {
      code: 'BAD_REQUEST',
      message:
        reason === 'schema'
          ? 'message does not match the schema'
          : `message refused: ${reason.replace(/_/g, ' ')}`,
      ...(issues ? { issues } : {}),
    });
  };
}

/** An async decision whose hook (schema, canAccess) rejects closes with 1011, never rejects. */
function createSettle(
  verdicts: Verdicts,
  reportMessage: (error: unknown) => void,
): (
  c: ConnectionState,
  d: MessageDecision | Promise<MessageDecision>,
) => MessageDecision | Promise<MessageDecision> {
  return (c, d) =>
    d instanceof Promise
      ? d.then(
          // Closed while the decision was awaited (schema, canAccess, authentication): nothing is
          // delivered for a connection the guard has released. (The transport also drops a
          // decision that reaches a closing socket: it cannot be observed sooner than it settles.)
          (r) => (r.action === 'deliver' && c.closed ? verdicts.close(c, 'internal', 'closed') : r),
          (error: unknown) => {
            reportMessage(error);
            return verdicts.close(c, 'internal', 'internal error');
          },
        )
      : d;
}

/** What the message decision is built from. */
export interface MessageParts {
  readonly verdicts: Verdicts;
  readonly rates: RateRefusals;
  readonly penalize: Penalize;
  readonly invalid: ReturnType<typeof createInvalid>;
  readonly check: CheckMessage;
  readonly authenticate: Authenticate;
  readonly userLimiter: UserRateLimiter | undefined;
}

/**
 * The checks of what a frame says, once its state, size and rates passed: passthrough, parse,
 * schema and permissions, or the first-message credential.
 */
function createContentChecks(
  settings: GuardContext['settings'],
  parts: MessageParts,
  settle: ReturnType<typeof createSettle>,
) {
  const { maxBytes, maxDepth, maxEntries, json, passthrough, passthroughMax } = settings;
  const { verdicts, invalid, check, authenticate } = parts;
  return (c: ConnectionState, frame: string | ArrayBuffer | ArrayBufferView, pending: boolean) => {
    if (typeof frame === 'string' && frame.length <= passthroughMax && passthrough.has(frame))
      return verdicts.deliver(frame);
    if (!json) {
      if (pending) return verdicts.close(c, 'credentials_missing', 'credentials required');
      return verdicts.deliver(frame);
    }
    const parsed = parseFrame(frame, maxBytes, maxDepth, maxEntries);
    if (!parsed.ok) {
      if (parsed.problem === 'too_big') return verdicts.close(c, 'too_big', 'message too big');
      if (pending) return verdicts.close(c, 'credentials_missing', 'credentials required');
      return invalid(c, parsed.problem);
    }
    if (pending) return settle(c, authenticate(c, parsed.value));
    return settle(c, check(c, parsed.value));
  };
}

/** The message decision of one guard. */
export function createMessageDecision(ctx: GuardContext, parts: MessageParts): DecideMessage {
  const { now, report, settings } = ctx;
  const { maxBytes, messageRate } = settings;
  const { verdicts, rates, penalize, userLimiter } = parts;
  const reportMessage = report('message');
  const content = createContentChecks(settings, parts, createSettle(verdicts, reportMessage));

  // The per-frame checks in their contract order: state, size, rates, passthrough, parse, checks.
  const decide = (c: ConnectionState, frame: string | ArrayBuffer | ArrayBufferView) => {
    const t = now();
    c.lastActivity = t;
    if (c.closed) return verdicts.close(c, 'internal', 'closed');
    if (c.bannedUntil !== undefined)
      return verdicts.close(c, 'banned', bannedReason(c.bannedUntil));
    if (c.expiresAt !== undefined && t >= c.expiresAt)
      return verdicts.close(c, 'expired', 'credentials expired');
    const pending = c.principal === undefined && c.authDeadline !== undefined;
    if (pending && t >= c.authDeadline!)
      return verdicts.close(c, 'auth_timeout', 'authentication timeout');
    // Frames arriving while the credential message is verified are refused: they would run
    // before the connection's identity and caps exist.
    if (c.phase === 'authenticating')
      return verdicts.close(c, 'credentials_missing', 'authentication in progress');

    if (frameBytes(frame, maxBytes) > maxBytes) {
      penalize('ip', c.ipKey, 'too_big', c);
      return verdicts.close(c, 'too_big', 'message too big');
    }
    // tryStep/tryTake: no result object per frame (0 = allowed, else the wait in ms).
    if (messageRate) {
      const wait = tryStep(c.rate, t, messageRate);
      if (wait > 0) {
        const d = rates.limited(c, 'message_rate', wait);
        if (d) return d;
      }
    }
    if (userLimiter && c.principal) {
      const wait = userLimiter.tryTake(c.principal.sub, t);
      if (wait !== 0) {
        // A shared budget whose local slice ran out answers after its lease (one store call per
        // slice, not per frame); the frames behind this one wait in the transport's queue.
        if (typeof wait !== 'number') {
          return wait
            .then((w) => {
              if (c.closed) return verdicts.close(c, 'internal', 'closed');
              return (
                (w > 0 && rates.limited(c, 'user_message_rate', w)) || content(c, frame, pending)
              );
            })
            .catch((error: unknown) => {
              reportMessage(error);
              return verdicts.close(c, 'internal', 'internal error');
            });
        }
        const d = rates.limited(c, 'user_message_rate', wait);
        if (d) return d;
      }
    }
    return content(c, frame, pending);
  };

  return (connection, frame) => {
    const c = connection as ConnectionState;
    try {
      return decide(c, frame);
    } catch (error) {
      reportMessage(error);
      return verdicts.close(c, 'internal', 'internal error');
    }
  };
}
