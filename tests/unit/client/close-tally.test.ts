/**
 * The close tally of `wsguard/client`: an attempt waits for the last socket's close, at most
 * 1 s, and leaves no timer behind (a pending one held a Node process open for that second).
 */
import { describe, expect, it } from 'vitest';
import { createCloseTally } from '../../../src/client/close-tally.ts';

/** Timers the process still holds. */
const timers = (): number =>
  (process as unknown as { getActiveResourcesInfo(): string[] })
    .getActiveResourcesInfo()
    .filter((r) => r === 'Timeout').length;

describe('close tally', () => {
  it('does not wait when every opened socket has closed', () => {
    const t = createCloseTally();
    expect(t.wait()).toBeUndefined();
    t.opened();
    t.closed();
    expect(t.wait()).toBeUndefined();
    t.closed(); // a socket that never opened closes too: the floor is 0
    expect(t.wait()).toBeUndefined();
  });

  it('resumes every waiter at the last close and clears their timers', async () => {
    const t = createCloseTally();
    t.opened();
    t.opened();
    const before = timers();
    const order: string[] = [];
    const a = t.wait()!.then(() => order.push('a'));
    const b = t.wait()!.then(() => order.push('b'));
    expect(timers()).toBe(before + 2);
    t.closed();
    await Promise.resolve();
    expect(order).toEqual([]);
    const start = Date.now();
    t.closed();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(Date.now() - start).toBeLessThan(100);
    expect(timers()).toBe(before);
  });

  it('gives up after 1 s when a close is never reported', async () => {
    const t = createCloseTally();
    t.opened();
    const start = Date.now();
    await t.wait();
    expect(Date.now() - start).toBeGreaterThanOrEqual(990);
  });
});
