/**
 * Limiter checks per second: wsguard's GCRA against rate-limiter-flexible's `RateLimiterMemory`,
 * interleaved in one run, on the same key distributions.
 *
 * - `LocalLimiter.take` is what the guard runs on every message (synchronous, no store).
 * - `createMemoryStore().limit()` is what it runs once per handshake (async, the store contract).
 * - `RateLimiterMemory.consume` is async only, and rejects when a call is refused.
 *
 * Every call in a case reads the clock, as a real caller does (`Date.now()`; rate-limiter-flexible
 * reads it internally). Allowed paths use a budget no call exhausts; refused paths use a budget of
 * one event per hour on a key that has spent it. Each case counts its outcomes and the run fails
 * if any call was decided otherwise than its name says.
 *
 * @module
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { createMemoryStore, LocalLimiter, type RateRule } from '../src/mod.ts';
import type { BenchCase, Comparison } from './harness.ts';

const HOUR_MS = 3_600_000;
/**
 * A budget no run can exhaust: one event per second sustained, 10^12 at once. The one-second
 * interval keeps every key's state in the future, so no key goes idle and is swept mid-run, just as
 * rate-limiter-flexible's hour-long records stay put.
 */
const OPEN: RateRule = { limit: 1, windowMs: 1000, burst: 1e12 };
/** One event per hour: after the first call, every call is refused. */
const SHUT: RateRule = { limit: 1, windowMs: HOUR_MS, burst: 1 };

type Outcome = 'allowed' | 'refused';

function keySet(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `user:${i}`);
}

/** Count outcomes and check them at the end. */
function tally(name: string, expected: Outcome) {
  let allowed = 0;
  let refused = 0;
  return {
    add(ok: boolean) {
      if (ok) allowed++;
      else refused++;
    },
    verify() {
      const wrong = expected === 'allowed' ? refused : allowed;
      if (wrong > 0) throw new Error(`${name}: ${wrong} calls were not ${expected}`);
    },
  };
}

function localCase(rule: RateRule, keys: readonly string[], expected: Outcome): BenchCase {
  const name = 'wsguard LocalLimiter.take (sync)';
  const limiter = new LocalLimiter(rule);
  const t = tally(name, expected);
  // The refused cases start from a key that has spent its budget.
  if (expected === 'refused') for (const k of keys) limiter.take(k, Date.now());
  let i = 0;
  return {
    name,
    run(n) {
      for (let j = 0; j < n; j++) {
        t.add(limiter.take(keys[i]!, Date.now()).allowed);
        if (++i === keys.length) i = 0;
      }
    },
    verify: t.verify,
  };
}

function storeCase(rule: RateRule, keys: readonly string[], expected: Outcome): BenchCase {
  const name = 'wsguard memory store limit() (async)';
  const store = createMemoryStore();
  const t = tally(name, expected);
  let i = 0;
  let primed = false;
  return {
    name,
    async before() {
      if (expected !== 'refused' || primed) return;
      primed = true;
      for (const k of keys) await store.limit(k, rule);
    },
    async run(n) {
      for (let j = 0; j < n; j++) {
        t.add((await store.limit(keys[i]!, rule)).allowed);
        if (++i === keys.length) i = 0;
      }
    },
    verify: t.verify,
  };
}

function flexibleCase(points: number, keys: readonly string[], expected: Outcome): BenchCase {
  const name = 'rate-limiter-flexible RateLimiterMemory.consume';
  const limiter = new RateLimiterMemory({ points, duration: HOUR_MS / 1000 });
  const t = tally(name, expected);
  let i = 0;
  let primed = false;
  return {
    name,
    async before() {
      if (expected !== 'refused' || primed) return;
      primed = true;
      for (const k of keys) await limiter.consume(k);
    },
    async run(n) {
      for (let j = 0; j < n; j++) {
        try {
          await limiter.consume(keys[i]!);
          t.add(true);
        } catch {
          t.add(false);
        }
        if (++i === keys.length) i = 0;
      }
    },
    verify: t.verify,
  };
}

const BASELINE = 'rate-limiter-flexible RateLimiterMemory.consume';

function scenario(title: string, keyCount: number, expected: Outcome): Comparison {
  const keys = keySet(keyCount);
  const rule = expected === 'allowed' ? OPEN : SHUT;
  const points = expected === 'allowed' ? Number.MAX_SAFE_INTEGER : 1;
  return {
    title,
    baseline: BASELINE,
    cases: [
      localCase(rule, keys, expected),
      storeCase(rule, keys, expected),
      flexibleCase(points, keys, expected),
    ],
  };
}

/** The limiter comparisons. */
export function limiterComparisons(): Comparison[] {
  return [
    scenario('Limiter, 1 key, every call allowed', 1, 'allowed'),
    scenario('Limiter, 10,000 keys in rotation, every call allowed', 10_000, 'allowed'),
    scenario('Limiter, 1 key, every call refused', 1, 'refused'),
    scenario('Limiter, 10,000 keys in rotation, every call refused', 10_000, 'refused'),
  ];
}
