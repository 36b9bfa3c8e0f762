/**
 * Rate refusals are counted in a 10 s window, not "in a row": a client that slips one allowed
 * frame between refusals (the review's 1:9 pattern) is still closed with 4029, and an honest client
 * that hits the limit now and then is not.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type MessageDecision } from '../../../src/mod.ts';
import { testGuard } from '../fixtures/guards.ts';

function clocked() {
  let t = Date.now();
  const clock = {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
  const g = testGuard(createMemoryStore({ now: clock.now }), {
    now: clock.now,
    penalties: false,
    limits: {
      connectRate: false,
      messageRate: { limit: 10, windowMs: 1000, burst: 1 },
      userMessageRate: false,
      closeAfterRateHits: 10,
    },
  });
  return { ...g, clock };
}

describe('rate refusals in a 10 s window', () => {
  it('closes a 1-allowed-in-10 pattern with 4029 (one allowed frame no longer resets the count)', async () => {
    const { open, guard, clock } = clocked();
    const s = await open({ sub: 'alice' });
    let closedAt = -1;
    const seen: string[] = [];
    for (let round = 0; round < 100 && closedAt < 0; round++) {
      for (let i = 0; i < 10; i++) {
        const d = guard.message(s.connection, '{"n":1}') as MessageDecision;
        seen.push(d.action);
        if (d.action === 'close') {
          expect(d).toMatchObject({ code: 4029, reason: 'message_rate' });
          closedAt = round;
          break;
        }
      }
      clock.advance(100); // room for exactly one more frame
    }
    expect(seen.filter((a) => a === 'deliver').length).toBeGreaterThan(0);
    expect(closedAt).toBeGreaterThanOrEqual(0);
    expect(closedAt).toBeLessThanOrEqual(2);
  });

  it('does not close a client that hits the limit once every few seconds', async () => {
    const { open, guard, clock } = clocked();
    const s = await open({ sub: 'alice' });
    for (let round = 0; round < 60; round++) {
      // A burst of two: one allowed, one refused, then a 3 s pause.
      const first = guard.message(s.connection, '{"n":1}') as MessageDecision;
      const second = guard.message(s.connection, '{"n":2}') as MessageDecision;
      expect(first.action).toBe('deliver');
      expect(second.action).toBe('reply');
      clock.advance(3000);
    }
  });

  it('charges refused batches (guard.consume) to the same window and closes persistent offenders', async () => {
    const { open, guard, clock } = clocked();
    const s = await open({ sub: 'alice' });
    let refused = 0;
    for (let i = 0; i < 40 && s.closes.length === 0; i++) {
      if (guard.consume(s.connection, 50) !== undefined) refused++;
      clock.advance(100);
    }
    expect(refused).toBeGreaterThanOrEqual(10);
    expect(s.closes.map((c) => c.code)).toEqual([4029]);
  });
});
