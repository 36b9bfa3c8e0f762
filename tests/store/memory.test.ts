/** The memory store passes the store contract, bounded or not. */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory.ts';
import { storeContract } from './contract.ts';

storeContract('memory', () => createMemoryStore());
// A bound the suite overflows (it writes ~110 distinct values) but no single case does (the
// largest holds 100 live keys): the contract must hold while earlier cases' keys are evicted.
storeContract('memory (maxKeys 100)', () => createMemoryStore({ maxKeys: 100 }));

describe('memory store: bounds never loosen a cap', () => {
  it('a flood of new lease holders never evicts a live lease, and caps hold throughout', async () => {
    const store = createMemoryStore({ maxKeys: 50 });
    for (let i = 0; i < 3; i++)
      expect((await store.acquireLease('lease:ip:victim', `v${i}`, 3, 60_000)).ok).toBe(true);
    let refused = 0;
    for (let i = 0; i < 5_000; i++) {
      const r = await store.acquireLease(`lease:ip:flood-${i}`, `f${i}`, 3, 60_000);
      if (!r.ok) refused++;
    }
    expect(refused).toBe(5_000 - 49);
    // The cap on the first holder still counts all three of its leases.
    expect(await store.countLeases('lease:ip:victim')).toBe(3);
    expect((await store.acquireLease('lease:ip:victim', 'v3', 3, 60_000)).ok).toBe(false);
  });

  it('a flood of new rate keys does not reset a key that keeps being limited', async () => {
    const store = createMemoryStore({ maxKeys: 50 });
    const rule = { limit: 1, windowMs: 3_600_000, burst: 1 };
    expect((await store.limit('rate:connect:attacker', rule)).allowed).toBe(true);
    for (let i = 0; i < 5_000; i++) {
      await store.limit(`rate:connect:other-${i}`, rule);
      // The attacker retries more often than the bound's worth of other keys arrive.
      if (i % 40 === 0)
        expect((await store.limit('rate:connect:attacker', rule)).allowed).toBe(false);
    }
  });
});
