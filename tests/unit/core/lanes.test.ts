/** Lanes: at most `width` calls at once, the rest in order; a failure, thrown or rejected, is reported and frees its lane. */
import { describe, expect, it } from 'vitest';
import { Lanes } from '../../../src/core/lanes.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('Lanes', () => {
  it('runs at most width at once, in order, and every call', async () => {
    const lanes = new Lanes(3);
    const started: number[] = [];
    let max = 0;
    const errors: unknown[] = [];
    const all = Array.from({ length: 20 }, (_, i) =>
      lanes.run(
        async () => {
          started.push(i);
          max = Math.max(max, lanes.running);
          await tick();
        },
        (e) => errors.push(e),
      ),
    );
    expect(lanes.running).toBe(3);
    expect(lanes.waiting).toBe(17);
    await Promise.all(all);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(max).toBe(3);
    expect(errors).toEqual([]);
    expect([lanes.running, lanes.waiting]).toEqual([0, 0]);
  });

  it('reports a thrown or rejected call and frees its lane', async () => {
    const lanes = new Lanes(1);
    const errors: string[] = [];
    const report = (e: unknown) => errors.push(String(e));
    await Promise.all([
      lanes.run(() => {
        throw new Error('sync');
      }, report),
      lanes.run(() => Promise.reject(new Error('async')), report),
      lanes.run(() => Promise.resolve(), report),
    ]);
    expect(errors).toEqual(['Error: sync', 'Error: async']);
    expect([lanes.running, lanes.waiting]).toEqual([0, 0]);
  });
});
