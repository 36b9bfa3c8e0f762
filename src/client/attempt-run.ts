/**
 * One run of reconnect attempts: the attempts counted against the bound, the last failure, and
 * the delay before the next attempt (at once, once per run, after 4002 or 1001; else full-jitter
 * backoff honouring the server's hint). A connection that served for a while ends the run.
 *
 * @module
 */
import { type BackoffOptions, backoffDelay, type CloseAction, retryHintMs } from './policy.ts';
import { RetryBudget, type RetryLimits } from './retry-budget.ts';
import type { ClientStop } from './stop.ts';

/** A connection open this long was healthy: the next failure starts a new run of attempts. */
const HEALTHY_AFTER_MS = 5000;

/** The run of attempts of one guarded client. */
export interface AttemptRun {
  /** A socket opened. */
  opened(): void;
  /** A socket closed; `own`: closed by the client itself, which ends the run. */
  closed(own: boolean): void;
  /** Count an attempt about to start; `false` (nothing counted) when the run is over its bound. */
  take(): boolean;
  /** Whether the run is over its bound: no further attempt may start. */
  exhausted(): boolean;
  /** The delay before tRPC's `attempt`-th retry. */
  delay(attempt: number): number;
  /** The last failure, named in the stop when the run gives up. */
  failed(code: number, reason: string, error?: unknown): void;
  /** The server's hint for the next delay, in ms (`undefined`: none). */
  hint(ms: number | undefined): void;
  /** A close asked to reconnect at once: the first of a run does, a repeat backs off. */
  soon(): void;
  /**
   * A server's close that does not stop the client (`action` from `closeAction`): when the next
   * attempt may start. A 1001 that says `retry in N ms` (a shutdown spreading its clients'
   * reconnects) waits that; else the first 4002 or 1001 of a run reconnects at once, and every
   * other close backs off, honouring the reason's hint.
   */
  afterClose(action: CloseAction, reason: string): void;
  /** The stop that ends a run over its bound. */
  gaveUp(): ClientStop;
  /** Start over (at `restart()`). */
  reset(): void;
}

/** The run of attempts, bounded by `backoff`'s limits and paced by its delays. */
export function createAttemptRun(backoff: (BackoffOptions & RetryLimits) | undefined): AttemptRun {
  let hintMs: number | undefined;
  let immediate = false;
  // One immediate reconnect (after 4002 or 1001) per run: a repeat backs off.
  let quick = true;
  let openedAt: number | undefined;
  let last: { code: number; reason: string; error?: unknown } = { code: 0, reason: '' };
  // Attempts since the last healthy connection. tRPC counts attempts only while sockets fail to
  // open, and resets on every open: a server that accepts and then closes (4002, 4029: the
  // close-code contract) would get an endless, unbounded loop.
  const budget = new RetryBudget(backoff);

  const fresh = (): void => {
    budget.reset();
    quick = true;
  };
  /** A connection open long enough, or closed by the client itself, ends the run. */
  const settle = (own = false): void => {
    if (openedAt !== undefined && (own || Date.now() - openedAt >= HEALTHY_AFTER_MS)) fresh();
  };

  return {
    opened() {
      openedAt = Date.now();
    },
    closed(own) {
      settle(own);
      openedAt = undefined;
    },
    take() {
      settle();
      return budget.take();
    },
    exhausted() {
      settle();
      return budget.exhausted();
    },
    delay(attempt) {
      if (immediate) {
        immediate = false;
        return 0;
      }
      const d = backoffDelay(Math.max(attempt, budget.attempts - 1), backoff, hintMs);
      hintMs = undefined;
      return d;
    },
    failed(code, reason, error) {
      last = { code, reason, error };
    },
    hint(ms) {
      hintMs = ms;
    },
    soon() {
      immediate = quick;
      quick = false;
    },
    afterClose(action, reason) {
      const ms = retryHintMs(reason);
      if (action === 'reconnect' && ms !== undefined) this.hint(ms);
      else if (action === 'refresh' || action === 'reconnect') this.soon();
      else this.hint(ms);
    },
    gaveUp: () => ({
      kind: 'gave-up',
      code: last.code,
      reason: `${budget.attempts} attempts${last.reason ? `; last: ${last.reason}` : ''}`,
      ...(last.error !== undefined ? { error: last.error } : {}),
    }),
    reset() {
      fresh();
      immediate = false;
      hintMs = undefined;
    },
  };
}
