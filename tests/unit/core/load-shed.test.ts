/**
 * Load shedding's delay: a refused crowd is spread over a window that grows with the overload
 * (refused ÷ admitted in the last full second), so it comes back at about the admitted rate; a
 * constant delay would bring it back all at once.
 */
import { describe, expect, it } from 'vitest';
import { LoadShed } from '../../../src/core/load-shed.ts';

describe('LoadShed', () => {
  it('admits up to the cap, refuses past it, admits again as requests leave', () => {
    const shed = new LoadShed(2, { now: () => 0 });
    expect([shed.enter(), shed.enter(), shed.enter()]).toEqual([true, true, false]);
    shed.leave();
    expect(shed.enter()).toBe(true);
    expect(shed.inFlight).toBe(2);
  });

  it('spreads over the minimum window when nothing was refused in the last second', () => {
    let t = 0;
    const shed = new LoadShed(1, { now: () => t, minWindowSec: 5 });
    expect(shed.windowSec()).toBe(5);
    const delays = new Set<number>();
    for (let i = 0; i < 200; i++) delays.add(shed.retryAfterSec());
    expect(Math.min(...delays)).toBe(1);
    expect(Math.max(...delays)).toBe(5);
    t = 10_000;
    expect(shed.windowSec()).toBe(5);
  });

  it('grows the window to refused ÷ admitted of the last second, within the maximum', () => {
    let t = 1_000;
    const shed = new LoadShed(10, { now: () => t, minWindowSec: 5, maxWindowSec: 60 });
    // One second: 100 admitted (10 at a time), 3,000 refused.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10; i++) expect(shed.enter()).toBe(true);
      for (let i = 0; i < 300; i++) expect(shed.enter()).toBe(false);
      for (let i = 0; i < 10; i++) shed.leave();
    }
    t = 2_000;
    expect(shed.windowSec()).toBe(30);
    const delays = Array.from({ length: 500 }, () => shed.retryAfterSec());
    expect(Math.max(...delays)).toBeLessThanOrEqual(30);
    expect(Math.max(...delays)).toBeGreaterThan(20);
    // A second with 100 times the refusals: capped.
    for (let i = 0; i < 10; i++) shed.enter();
    for (let i = 0; i < 100_000; i++) shed.enter();
    t = 3_000;
    expect(shed.windowSec()).toBe(60);
    // A quiet gap: stale counts are dropped, back to the minimum.
    t = 10_000;
    expect(shed.windowSec()).toBe(5);
  });
});
