/**
 * The memory store's `LeaseSet` keeps one lease in two fields and a `Map` from the second on: the
 * order (oldest first, which single-session eviction relies on), renewals in place and expiry must
 * be the same whichever form it is in, across the changes between them.
 */
import { describe, expect, it } from 'vitest';
import { LeaseSet } from '../../../src/store/memory-leases.ts';

describe('LeaseSet', () => {
  it('keeps insertion order through one lease, many, and back', () => {
    const set = new LeaseSet();
    expect([set.size, set.oldest(), set.has('a')]).toEqual([0, undefined, false]);
    set.set('a', 100);
    set.set('a', 200); // a renewal keeps its place
    expect([set.size, set.oldest()]).toEqual([1, 'a']);
    set.set('b', 100);
    set.set('c', 100);
    set.set('a', 300);
    expect([set.size, set.oldest()]).toEqual([3, 'a']);
    set.delete('a');
    expect([set.size, set.oldest()]).toEqual([2, 'b']);
    set.delete('b'); // down to one: the map goes, c stays with its expiry
    expect([set.size, set.oldest(), set.has('c'), set.has('b')]).toEqual([1, 'c', true, false]);
    set.set('d', 500);
    expect([set.size, set.oldest()]).toEqual([2, 'c']);
    expect(set.prune(100)).toBe(1); // c expired at 100
    expect([set.oldest(), set.has('c')]).toEqual(['d', false]);
    set.delete('nope');
    expect(set.size).toBe(1);
    set.delete('d');
    expect([set.size, set.oldest()]).toEqual([0, undefined]);
  });

  it('prunes every expired lease, in either form', () => {
    const one = new LeaseSet();
    one.set('a', 100);
    expect(one.prune(99)).toBe(1);
    expect(one.prune(100)).toBe(0);
    const many = new LeaseSet();
    for (const [id, at] of [
      ['a', 100],
      ['b', 300],
      ['c', 100],
      ['d', 200],
    ] as const)
      many.set(id, at);
    expect(many.prune(150)).toBe(2);
    expect(many.oldest()).toBe('b');
    expect(many.prune(250)).toBe(1);
    expect([many.oldest(), many.has('b'), many.has('d')]).toEqual(['b', true, false]);
    expect(many.prune(300)).toBe(0);
  });
});
