/**
 * The fault suite's checker on hand-made runs: each kind of failure is found, and named as what it
 * is, and a clean run or a gap the subscriber was told about passes.
 */
import { describe, expect, it } from 'vitest';
import { type Acked, RELOAD, verify } from './verify.ts';

const acked: Acked[] = [1, 2, 3, 4, 5].map((n) => ({ n, id: `100-${n}` }));
const got = (...ns: number[]) => ns.map((n) => ({ n, id: `100-${n}` }));

describe('verify(acked, received, told)', () => {
  it('passes a run with every acknowledged event once, in order', () => {
    const v = verify(acked, got(1, 2, 3, 4, 5), []);
    expect(v.ok).toBe(true);
    expect(v.silentGaps).toEqual([]);
  });

  it('reports loss at the end, and at the start as a silent gap', () => {
    const tail = verify(acked, got(1, 2, 3), []);
    expect(tail.ok).toBe(false);
    expect(tail.lost).toEqual([4, 5]);
    const head = verify(acked, got(3, 4, 5), []);
    expect(head.ok).toBe(false);
    expect(head.silentGaps).toEqual([
      { after: undefined, before: 3, missing: [1, 2], told: false },
    ]);
  });

  it('reports duplicates, and a second append by its other id', () => {
    const v = verify(acked, [...got(1, 2), { n: 2, id: '100-9' }, ...got(3, 4, 5)], []);
    expect(v.ok).toBe(false);
    expect(v.duplicates).toEqual([{ n: 2, times: 2 }]);
    expect(v.reordered).toEqual([]);
    const other = verify(acked, [...got(1), { n: 2, id: '100-9' }, ...got(3, 4, 5)], []);
    expect(other.wrongId).toEqual([{ n: 2, acked: '100-2', got: '100-9' }]);
  });

  it('reports reordering', () => {
    const v = verify(acked, got(1, 3, 2, 4, 5), []);
    expect(v.ok).toBe(false);
    expect(v.reordered).toEqual([[3, 2]]);
  });

  it('tells a silent gap from one a RELOAD told about', () => {
    const silent = verify(acked, got(1, 2, 5), []);
    expect(silent.ok).toBe(false);
    expect(silent.silentGaps).toEqual([{ after: 2, before: 5, missing: [3, 4], told: false }]);
    // Told after 2 events, before the third arrived: the app knew.
    const told = verify(acked, got(1, 2, 5), [{ code: RELOAD, at: 2 }]);
    expect(told.ok).toBe(true);
    expect(told.toldGaps).toHaveLength(1);
    // A RELOAD told after the events beyond the gap came does not excuse it: they came silently.
    const late = verify(acked, got(1, 2, 5), [{ code: RELOAD, at: 3 }]);
    expect(late.ok).toBe(false);
    // A RESUME never excuses a gap: the events were still held.
    const resume = verify(acked, got(1, 2, 5), [{ code: 'WSGUARD_FEED_RESUME', at: 2 }]);
    expect(resume.ok).toBe(false);
  });

  it('accepts a subscriber that stopped at a RELOAD, and nothing after it', () => {
    const v = verify(acked, got(1, 2), [{ code: RELOAD, at: 2 }]);
    expect(v.ok).toBe(true);
    expect(v.lost).toEqual([]);
  });

  it('lets an unacknowledged publish arrive once, never twice, and flags unknown events', () => {
    expect(verify(acked, [...got(1, 2), { n: 9, id: '100-6' }, ...got(3, 4, 5)], [], [9]).ok).toBe(
      true,
    );
    const twice = verify(
      acked,
      [{ n: 9, id: '1-1' }, { n: 9, id: '1-2' }, ...got(1, 2, 3, 4, 5)],
      [],
      [9],
    );
    expect(twice.duplicates).toEqual([{ n: 9, times: 2 }]);
    expect(verify(acked, [...got(1, 2, 3, 4, 5), { n: 42, id: '200-1' }], []).unknown).toEqual([
      42,
    ]);
  });
});
