/**
 * Per-user message rates that hold across instances, without a store round trip per frame. Each
 * instance leases the user's budget from the shared store in slices (one GCRA step of cost
 * `slice` on the user's key) and spends them locally; when a slice runs low, the next is leased in
 * the background. The way global rate limiters in front of large fleets work: the store sees one
 * call per `slice` frames, and a user on N instances gets at most the budget plus one slice per
 * instance.
 *
 * Why "plus one slice": a user's first frame on an instance must not wait for Redis (the frame path
 * is synchronous), so a new user starts with one slice on credit, charged to the store at once;
 * a charge the store refuses becomes debt that later slices pay back. Only that credit is ever
 * spent unpaid, and never twice in a row: a user the store refused recently starts without it
 * (a user reconnecting to mint credit gets none).
 *
 * When the store fails, the user's frames are limited by this instance's own budget (the old,
 * per-instance behaviour) until a lease succeeds again, and the failure is reported once: a
 * message rate is an abuse bound, and a store outage must not stop every conversation.
 *
 * @module
 */
import { type LimitResult, type RateRule, tryStep } from '../core/rate-limit.ts';
import type { Store } from '../store/contract.ts';

/** What the frame path needs from a per-user limiter (`LocalLimiter` fits, and so does this). */
export interface UserRateLimiter {
  /**
   * 0 when `cost` events fit now, else the ms until they might (at least 1); or a promise of
   * either, when the answer waits for the store (a shared budget whose local slice ran out).
   */
  tryTake(key: string, now: number, cost?: number): number | Promise<number>;
  /** {@link tryTake} with a result object (batches). */
  take(key: string, now: number, cost?: number): LimitResult;
  /** Forget a user (their last connection on this instance closed). */
  delete(key: string): void;
}

interface Entry {
  /** Events this instance may still spend; negative while it owes the store for its credit. */
  tokens: number;
  /** A lease is in flight. */
  leasing: boolean;
  /** Settles when the lease in flight does. */
  lease: Promise<void> | undefined;
  /** The store refused until then (ms): no lease is asked before it. */
  refusedUntil: number;
  /** Non-zero while the store fails: frames use the local budget (`tat`); next lease try (ms). */
  localUntil: number;
  /** The local budget's GCRA state while the store is failing. */
  tat: number;
  /** Last frame (ms), for sweeping idle users. */
  seen: number;
}

/** Options of {@link SharedUserRate}. */
export interface SharedUserRateOptions {
  /** The shared store the budget lives in. */
  readonly store: Store;
  /** The per-user rule (cluster-wide). */
  readonly rule: RateRule;
  /** Events leased per store call. @default a quarter of the burst, at least 1 */
  readonly slice?: number;
  /** The clock (ms). */
  readonly now: () => number;
  /** Told when a lease fails (the store is down); once per outage. */
  readonly onError: (error: unknown) => void;
}

// How long a failing store is left alone before a lease is tried again.
const RETRY_STORE_MS = 1000;

/** A per-user limiter whose budget is shared by every instance on the same store. */
export class SharedUserRate implements UserRateLimiter {
  readonly #store: Store;
  readonly #rule: RateRule;
  readonly #slice: number;
  readonly #interval: number;
  /** Leases a waiting frame sits through at most: one budget's worth of slices, and one more. */
  readonly #maxRounds: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #entries = new Map<string, Entry>();
  /** Users the store refused recently, and until when: they get no credit when they come back. */
  readonly #refused = new Map<string, number>();
  readonly #holder = { tat: 0 };
  #failing = false;
  #ops = 0;

  /** A limiter leasing `rule`'s budget from `store`. */
  constructor(options: SharedUserRateOptions) {
    this.#store = options.store;
    this.#rule = options.rule;
    const burst = options.rule.burst ?? options.rule.limit;
    this.#slice = Math.max(1, Math.min(burst, options.slice ?? Math.ceil(burst / 4)));
    this.#interval = options.rule.windowMs / options.rule.limit;
    this.#maxRounds = Math.ceil(burst / this.#slice) + 1;
    this.#now = options.now;
    this.#onError = options.onError;
  }

  /** Events leased per store call. */
  get slice(): number {
    return this.#slice;
  }

  tryTake(key: string, now: number, cost = 1): number | Promise<number> {
    const e = this.#entry(key, now);
    e.seen = now;
    if (e.localUntil > 0) {
      // The store failed: stay on the local budget until a lease succeeds, trying every second.
      if (now >= e.localUntil) {
        e.localUntil = now + RETRY_STORE_MS;
        this.#lease(key, e, false);
      }
      return this.#local(e, now, cost);
    }
    const spent = this.#spend(key, e, cost);
    if (spent === 0 || now < e.refusedUntil) return spent;
    // The slice ran out before the next one came (a burst larger than a slice on this instance):
    // the frame waits for the lease in flight instead of being refused while the user's budget,
    // on the store, may still have room. The transport holds the frames behind it meanwhile.
    return this.#afterLease(key, e, cost);
  }

  take(key: string, now: number, cost = 1): LimitResult {
    const e = this.#entry(key, now);
    e.seen = now;
    const wait = e.localUntil > 0 ? this.#local(e, now, cost) : this.#spend(key, e, cost);
    if (wait > 0) return { allowed: false, remaining: 0, retryAfterMs: wait };
    return { allowed: true, remaining: Math.max(0, Math.floor(e.tokens)), retryAfterMs: 0 };
  }

  delete(key: string): void {
    const e = this.#entries.get(key);
    this.#entries.delete(key);
    // Whoever leaves in debt, or refused, comes back without credit until the refusal ends.
    if (e && (e.tokens < 0 || e.refusedUntil > this.#now())) {
      this.#refused.set(key, Math.max(e.refusedUntil, this.#now() + this.#rule.windowMs));
    }
  }

  /** Spend `cost` from the slice: 0, or the wait (a lease is asked for either way when low). */
  #spend(key: string, e: Entry, cost: number): number {
    if (e.tokens >= cost) {
      e.tokens -= cost;
      // Ask for the next slice before this one is spent, so a steady sender never waits.
      if (e.tokens < this.#slice / 2) this.#lease(key, e, false);
      return 0;
    }
    this.#lease(key, e, false);
    const now = this.#now();
    return Math.max(1, Math.ceil(e.refusedUntil - now), Math.ceil(this.#interval * cost));
  }

  /**
   * Wait for leases until the frame can be spent or the store refuses: at most as many leases as
   * the whole budget takes, so a frame never waits on a store that keeps answering.
   */
  async #afterLease(key: string, e: Entry, cost: number): Promise<number> {
    for (let round = 0; round < this.#maxRounds; round++) {
      if (e.lease === undefined) break;
      await e.lease;
      if (e.localUntil > 0) return this.#local(e, this.#now(), cost);
      const wait = this.#spend(key, e, cost);
      if (wait === 0 || this.#now() < e.refusedUntil) return wait;
    }
    return this.#spend(key, e, cost);
  }

  #entry(key: string, now: number): Entry {
    let e = this.#entries.get(key);
    if (e !== undefined) return e;
    if (++this.#ops >= 1024 && this.#ops >= this.#entries.size) this.#sweep(now);
    const refusedUntil = this.#refused.get(key) ?? 0;
    if (refusedUntil <= now) this.#refused.delete(key);
    const credit = refusedUntil > now ? 0 : this.#slice;
    e = {
      tokens: credit,
      leasing: false,
      lease: undefined,
      refusedUntil,
      localUntil: 0,
      tat: 0,
      seen: now,
    };
    this.#entries.set(key, e);
    // Charge the credit to the store at once; refused, it turns into debt.
    if (credit > 0) this.#lease(key, e, true);
    return e;
  }

  /** The store is failing: this instance's own budget, as a per-instance limiter would. */
  #local(e: Entry, now: number, cost: number): number {
    const holder = this.#holder;
    holder.tat = e.tat;
    const wait = tryStep(holder, now, this.#rule, cost);
    e.tat = holder.tat;
    return wait;
  }

  /** Lease a slice in the background; `charge`: pay for the credit rather than add to it. */
  #lease(key: string, e: Entry, charge: boolean): void {
    if (e.leasing || this.#now() < e.refusedUntil) return;
    e.leasing = true;
    e.lease = this.#store.limit(`urate:${key}`, this.#rule, this.#slice).then(
      (r) => {
        e.leasing = false;
        e.lease = undefined;
        this.#failing = false;
        e.localUntil = 0;
        if (r.allowed) {
          if (!charge) e.tokens += this.#slice;
        } else {
          if (charge) e.tokens -= this.#slice;
          e.refusedUntil = this.#now() + Math.max(1, r.retryAfterMs);
        }
      },
      (error: unknown) => {
        e.leasing = false;
        e.lease = undefined;
        if (charge) e.tokens -= this.#slice;
        const now = this.#now();
        // Spend from the local budget meanwhile, as if this instance were alone.
        if (e.localUntil === 0) e.tat = now;
        e.localUntil = now + RETRY_STORE_MS;
        if (!this.#failing) {
          this.#failing = true;
          this.#onError(error);
        }
      },
    );
  }

  #sweep(now: number): void {
    this.#ops = 0;
    const idle = 2 * this.#rule.windowMs;
    for (const [key, e] of this.#entries) {
      if (!e.leasing && now - e.seen > idle) this.delete(key);
    }
    for (const [key, until] of this.#refused) if (until <= now) this.#refused.delete(key);
  }
}
