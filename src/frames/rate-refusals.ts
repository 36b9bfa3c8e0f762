/**
 * Message rate refusals: a frame over the connection's or the user's rate is answered with
 * TOO_MANY_REQUESTS, and `closeAfterRateHits` refusals within {@link RATE_HIT_WINDOW_MS} close
 * the connection with 4029. A window, not a run: a count reset by one allowed frame let a
 * 1-allowed-in-10 pattern go on for ever, and every refusal still costs the server a reply.
 * `consume` charges extra events (a tRPC batch of N calls costs N) to the same limits.
 *
 * @module
 */
import { gcraStep, type LimitResult } from '../core/rate-limit.ts';
import type { ConnectionState } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { Penalize } from '../state/penalize.ts';
import type { UserRateLimiter } from '../state/shared-user-rate.ts';
import type { MessageDecision } from './decision.ts';
import type { Verdicts } from './verdicts.ts';

/** The window rate refusals are counted in. */
const RATE_HIT_WINDOW_MS = 10_000;

/** Rate refusals of one guard. */
export interface RateRefusals {
  /** A refused frame: the reply, the close, or (dry run) nothing. */
  limited(
    c: ConnectionState,
    reason: 'message_rate' | 'user_message_rate',
    retryAfterMs: number,
  ): MessageDecision | undefined;
  /** Charge `cost` more events; the refusal, or `undefined` within budget (`guard.consume`). */
  consume(c: ConnectionState, cost: number): LimitResult | undefined;
}

/** The rate refusals of one guard. */
export function createRateRefusals(
  ctx: GuardContext,
  parts: { verdicts: Verdicts; penalize: Penalize; userLimiter: UserRateLimiter | undefined },
): RateRefusals {
  const { audit, now, settings } = ctx;
  const { dryRun, closeAfterRateHits, messageRate } = settings;
  const { verdicts, penalize, userLimiter } = parts;

  /** One more refusal for `c`; true when it is the `closeAfterRateHits`-th within the window. */
  const countHit = (c: ConnectionState, t: number): boolean => {
    if (closeAfterRateHits <= 1) return true;
    // The times of the last `closeAfterRateHits` refusals, in a ring allocated at the first one:
    // the connection is closed when the oldest of them is within the window.
    if (c.rateHitTimes === undefined)
      c.rateHitTimes = new Array<number>(closeAfterRateHits).fill(Number.NEGATIVE_INFINITY);
    const ring = c.rateHitTimes;
    ring[c.rateHits % closeAfterRateHits] = t;
    c.rateHits++;
    // The oldest of the last `closeAfterRateHits` (-Infinity until there are that many).
    return t - ring[c.rateHits % closeAfterRateHits]! <= RATE_HIT_WINDOW_MS;
  };

  return {
    limited(c, reason, retryAfterMs) {
      if (dryRun) {
        audit({ type: 'limit.exceeded', connectionId: c.id, ip: c.ip, reason, dryRun });
        return undefined;
      }
      penalize('ip', c.ipKey, 'message_rate', c);
      if (countHit(c, now())) return verdicts.close(c, reason);
      return verdicts.reply(c, reason, {
        code: 'TOO_MANY_REQUESTS',
        message: 'rate limit exceeded',
        retryAfterMs,
      });
    },
    consume(c, cost) {
      if (!(cost > 0) || dryRun) return undefined;
      const t = now();
      let refused: LimitResult | undefined;
      if (messageRate) {
        const step = gcraStep(c.rate.tat, t, messageRate, cost);
        if (step.result.allowed) c.rate.tat = step.tat;
        else refused = step.result;
      }
      if (!refused && userLimiter && c.principal) {
        const r = userLimiter.take(c.principal.sub, t, cost);
        if (!r.allowed) refused = r;
      }
      // A refused batch counts like a refused frame: persistent offenders are closed with 4029.
      if (refused && countHit(c, t) && !c.closed) {
        const d = verdicts.close(c, 'message_rate');
        if (d.action === 'close') c.terminate?.(d.code, d.message);
      }
      return refused;
    },
  };
}
