/**
 * Rate limiting by GCRA (the generic cell rate algorithm): one number of state per key (the
 * "theoretical arrival time"), exact, with no window-boundary bursts. The step function is pure
 * so that every store runs the same arithmetic: the memory store in one synchronous step, Redis in
 * one Lua script.
 *
 * @module
 */

/** A rate: `limit` events per `windowMs`, with up to `burst` at once. */
export interface RateRule {
  /** Events allowed per window, sustained. */
  readonly limit: number;
  /** Window length in milliseconds. */
  readonly windowMs: number;
  /**
   * Events allowed at once from idle.
   * @default limit
   */
  readonly burst?: number;
}

/** The outcome of one limiter step. */
export interface LimitResult {
  /** Whether the event fits the budget (and was counted). */
  readonly allowed: boolean;
  /** Events still allowed right now. */
  readonly remaining: number;
  /** When refused: milliseconds until one event would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
}

/** The new limiter state and the result of one step. */
export interface GcraStep {
  /** New theoretical arrival time (ms); unchanged when refused. */
  readonly tat: number;
  /** The decision. */
  readonly result: LimitResult;
}

/**
 * One GCRA step. In any window of length W the number of allowed events never exceeds
 * `burst + W / (windowMs / limit)`.
 *
 * @param tat previous theoretical arrival time in ms (0 or less for a new key)
 * @param now current time in ms
 */
export function gcraStep(tat: number, now: number, rule: RateRule, cost = 1): GcraStep {
  // The verdict and the new TAT are tryStep's (one copy of the arithmetic); only `remaining` is
  // added here.
  const holder = { tat };
  const wait = tryStep(holder, now, rule, cost);
  if (wait > 0) return { tat, result: { allowed: false, remaining: 0, retryAfterMs: wait } };
  const interval = rule.windowMs / rule.limit;
  const burst = rule.burst ?? rule.limit;
  const remaining = Math.floor(burst - cost - (Math.max(tat, now) - now) / interval + 1e-9);
  return {
    tat: holder.tat,
    result: { allowed: true, remaining: Math.max(0, remaining), retryAfterMs: 0 },
  };
}

/** How long a limiter key must be kept: past this, its state equals a fresh key's. */
export function gcraTtlMs(tat: number, now: number): number {
  return Math.max(0, Math.ceil(tat - now));
}

/**
 * A process-local limiter for per-connection and per-user message rates: these run on every
 * frame, so they never wait on a store round trip. Keys are dropped once idle.
 */
export class LocalLimiter {
  readonly #rule: RateRule;
  readonly #state = new Map<string, number>();
  /** Reused by {@link tryTake}: one step at a time, so one holder serves every key. */
  readonly #scratch = { tat: 0 };
  #ops = 0;

  /** A limiter for `rule`; keys are created on first use. */
  constructor(rule: RateRule) {
    this.#rule = rule;
  }

  /** Count one event for `key` at `now`. */
  take(key: string, now: number, cost = 1): LimitResult {
    const step = gcraStep(this.#state.get(key) ?? 0, now, this.#rule, cost);
    this.#state.set(key, step.tat);
    // Amortised sweep: a key whose TAT is in the past carries no information. A sweep visits every
    // key, so it waits for at least as many calls as there are keys: O(1) per call at any size.
    if (++this.#ops >= 1024 && this.#ops >= this.#state.size) this.#sweep(now);
    return step.result;
  }

  /**
   * {@link take} without a result object, for the per-frame path: 0 when allowed, otherwise the
   * milliseconds until one event would be (at least 1).
   */
  tryTake(key: string, now: number, cost = 1): number {
    const holder = this.#scratch;
    holder.tat = this.#state.get(key) ?? 0;
    const wait = tryStep(holder, now, this.#rule, cost);
    this.#state.set(key, holder.tat);
    if (++this.#ops >= 1024 && this.#ops >= this.#state.size) this.#sweep(now);
    return wait;
  }

  /** Forget a key (its owner left). */
  delete(key: string): void {
    this.#state.delete(key);
  }

  /** Number of keys held; for tests and stats. */
  get size(): number {
    return this.#state.size;
  }

  #sweep(now: number): void {
    this.#ops = 0;
    for (const [key, tat] of this.#state) if (tat <= now) this.#state.delete(key);
  }
}

/**
 * One GCRA step that allocates nothing, for limiters that run on every frame: updates
 * `holder.tat` and returns 0 when the event is allowed, or, when refused, the milliseconds until
 * one would be (always at least 1) and leaves `holder.tat` unchanged. {@link gcraStep} is this
 * step with a result object.
 */
export function tryStep(holder: { tat: number }, now: number, rule: RateRule, cost = 1): number {
  const interval = rule.windowMs / rule.limit;
  const base = Math.max(holder.tat, now);
  // Written as base + (cost - burst) × interval rather than newTat - burst × interval: when the
  // key is idle (base = now) the comparison is then exact, and a retry after the returned wait is
  // allowed. The other form rounds (now + i) - i above now, refusing on-rate events.
  const allowAt = base + (cost - (rule.burst ?? rule.limit)) * interval;
  if (allowAt > now) return Math.ceil(allowAt - now);
  holder.tat = base + cost * interval;
  return 0;
}
