/**
 * The bound on a run of reconnect attempts: every reconnect path (refresh, going away, backoff,
 * a failed ticket fetch) draws on it, and a connection that served for a while refills it.
 *
 * @module
 */

/** When the client gives up reconnecting. */
export interface RetryLimits {
  /**
   * Connection attempts in a row without a healthy connection (one open 5 s, or closed by the
   * client itself) before the client gives up. `Infinity` never gives up on count.
   * @default 10
   */
  readonly maxAttempts?: number;
  /**
   * Give up when a run of attempts has lasted this long, in ms.
   * @default 300000
   */
  readonly maxElapsedMs?: number;
}

/** Attempts in a row since the last healthy connection, and when the run began. */
export class RetryBudget {
  /** Attempts started in this run. */
  attempts = 0;
  private start: number | undefined;
  private readonly max: number;
  private readonly maxElapsed: number;
  private readonly now: () => number;

  constructor(limits: RetryLimits = {}, now: () => number = Date.now) {
    // At least one attempt, so a client can always try once.
    this.max = Math.max(1, limits.maxAttempts ?? 10);
    this.maxElapsed = limits.maxElapsedMs ?? 300_000;
    this.now = now;
  }

  /** Whether the run is over its bound: no further attempt may start. */
  exhausted(): boolean {
    return (
      this.attempts >= this.max ||
      (this.start !== undefined && this.now() - this.start >= this.maxElapsed)
    );
  }

  /** Count an attempt about to start; `false` (and nothing counted) when the run is exhausted. */
  take(): boolean {
    if (this.exhausted()) return false;
    this.attempts++;
    this.start ??= this.now();
    return true;
  }

  /** A connection proved healthy: the next failure starts a new run. */
  reset(): void {
    this.attempts = 0;
    this.start = undefined;
  }
}
