import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tryStep } from '../../../src/core/rate-limit.ts';
import { createMemoryStore, gcraStep, LocalLimiter, type RateRule } from '../../../src/mod.ts';

/** A rule with integer parameters; `burst` sometimes left to its default (the limit). */
const ruleArb: fc.Arbitrary<RateRule> = fc.record(
  {
    limit: fc.integer({ min: 1, max: 50 }),
    windowMs: fc.integer({ min: 1, max: 100_000 }),
    burst: fc.integer({ min: 1, max: 20 }),
  },
  { requiredKeys: ['limit', 'windowMs'] },
);

/** Event times: a start and non-negative gaps, many of them zero (simultaneous events). */
const timesArb = (maxGap: number): fc.Arbitrary<number[]> =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 1_000_000_000 }),
      fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: maxGap })), {
        minLength: 1,
        maxLength: 300,
      }),
    )
    .map(([start, gaps]) => {
      let t = start;
      return gaps.map((g) => {
        t += g;
        return t;
      });
    });

const scenarioArb = ruleArb.chain((rule) =>
  fc.tuple(fc.constant(rule), timesArb(Math.max(1, Math.ceil((rule.windowMs / rule.limit) * 3)))),
);

/**
 * The budget: in any window [t, t + W] at most burst + floor(W / (windowMs / limit)) events.
 * Checked on every pair of allowed events, which covers every window that holds any of them.
 */
function assertWithinBudget(rule: RateRule, allowed: readonly number[]): void {
  const burst = rule.burst ?? rule.limit;
  for (let i = 0; i < allowed.length; i++) {
    for (let j = i; j < allowed.length; j++) {
      const w = allowed[j]! - allowed[i]!;
      const budget = burst + Math.floor((w * rule.limit) / rule.windowMs);
      const count = j - i + 1;
      if (count > budget) {
        throw new Error(
          `${count} events allowed in a window of ${w} ms (budget ${budget}) for ${JSON.stringify(rule)}`,
        );
      }
    }
  }
}

describe('GCRA budget (property)', () => {
  it('gcraStep never allows more than burst + floor(W / interval) events in any window of length W', () => {
    fc.assert(
      fc.property(scenarioArb, ([rule, times]) => {
        let tat = 0;
        const allowed: number[] = [];
        for (const t of times) {
          const s = gcraStep(tat, t, rule);
          if (s.result.allowed) allowed.push(t);
          tat = s.tat;
        }
        assertWithinBudget(rule, allowed);
      }),
      { numRuns: 500 },
    );
  });

  it('LocalLimiter never allows more than its budget in any window, per key', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 300, maxLength: 300 }),
        ([rule, times], keys) => {
          const limiter = new LocalLimiter(rule);
          const allowed = new Map<string, number[]>();
          times.forEach((t, i) => {
            const key = keys[i]!;
            if (limiter.take(key, t).allowed) allowed.set(key, [...(allowed.get(key) ?? []), t]);
          });
          for (const list of allowed.values()) assertWithinBudget(rule, list);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the memory store limiter never allows more than its budget in any window', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ([rule, times]) => {
        let now = 0;
        const store = createMemoryStore({ now: () => now });
        const allowed: number[] = [];
        for (const t of times) {
          now = t;
          if ((await store.limit('k', rule)).allowed) allowed.push(t);
        }
        assertWithinBudget(rule, allowed);
      }),
      { numRuns: 200 },
    );
  });

  it('never refuses events that arrive at most at the sustained rate', () => {
    fc.assert(
      fc.property(ruleArb, fc.integer({ min: 1, max: 200 }), (rule, n) => {
        const gap = Math.ceil(rule.windowMs / rule.limit);
        let tat = 0;
        for (let i = 0; i < n; i++) {
          const s = gcraStep(tat, 1_000_000 + i * gap, rule);
          expect(s.result.allowed).toBe(true);
          tat = s.tat;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a refusal changes nothing, and the event is allowed exactly retryAfterMs later', () => {
    fc.assert(
      fc.property(scenarioArb, ([rule, times]) => {
        let tat = 0;
        for (const t of times) {
          const s = gcraStep(tat, t, rule);
          if (!s.result.allowed) {
            expect(s.tat).toBe(tat);
            expect(s.result.retryAfterMs).toBeGreaterThan(0);
            expect(gcraStep(tat, t + s.result.retryAfterMs, rule).result.allowed).toBe(true);
          }
          tat = s.tat;
        }
      }),
      { numRuns: 300 },
    );
  });

  // The per-frame path uses the allocation-free forms; they must decide exactly as gcraStep does.
  it('tryStep decides exactly as gcraStep: same verdicts, waits and state', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 300, maxLength: 300 }),
        ([rule, times], costs) => {
          let tat = 0;
          const holder = { tat: 0 };
          for (const [i, t] of times.entries()) {
            const cost = costs[i]!;
            const s = gcraStep(tat, t, rule, cost);
            const wait = tryStep(holder, t, rule, cost);
            expect(wait).toBe(s.result.allowed ? 0 : s.result.retryAfterMs);
            expect(holder.tat).toBe(s.tat);
            tat = s.tat;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('LocalLimiter.tryTake decides exactly as take, key by key', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 300, maxLength: 300 }),
        ([rule, times], keys) => {
          const a = new LocalLimiter(rule);
          const b = new LocalLimiter(rule);
          for (const [i, t] of times.entries()) {
            const key = `k${keys[i]}`;
            const r = a.take(key, t);
            expect(b.tryTake(key, t)).toBe(r.allowed ? 0 : r.retryAfterMs);
          }
          expect(b.size).toBe(a.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
