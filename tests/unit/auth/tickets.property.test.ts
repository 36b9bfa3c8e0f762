/**
 * Property: a ticket redeemed concurrently by many awaiting callers succeeds exactly once, with
 * the memory store as it is, with a store that adds random async delays around every operation,
 * and under fast-check's scheduler, which explores the interleavings of those operations. A
 * deliberately non-atomic store (get, then delete) is shown to fail the same property, so the
 * property has teeth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Accept,
  CredentialError,
  createGuard,
  createMemoryStore,
  createTickets,
  type Principal,
  type Reject,
  type Store,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';
const ALICE: Principal = { sub: 'alice', roles: ['user'], permissions: [] };

/** Every store method, forwarded through `around` (which may delay before and after). */
function wrapStore(
  inner: Store,
  around: <T>(op: string, run: () => Promise<T>) => Promise<T>,
  name = 'wrapped',
): Store {
  return {
    name,
    shared: inner.shared,
    set: (k, v, ttl) => around('set', () => inner.set(k, v, ttl)),
    get: (k) => around('get', () => inner.get(k)),
    delete: (k) => around('delete', () => inner.delete(k)),
    take: (k) => around('take', () => inner.take(k)),
    limit: (k, r, c) => around('limit', () => inner.limit(k, r, c)),
    acquireLease: (k, id, max, ttl, o) =>
      around('acquireLease', () => inner.acquireLease(k, id, max, ttl, o)),
    renewLeases: (k, ids, ttl) => around('renewLeases', () => inner.renewLeases(k, ids, ttl)),
    releaseLease: (k, id) => around('releaseLease', () => inner.releaseLease(k, id)),
    countLeases: (k) => around('countLeases', () => inner.countLeases(k)),
    addScore: (k, p, h) => around('addScore', () => inner.addScore(k, p, h)),
  };
}

/** A delay drawn from `delays` in turn: 0 is a few microtask turns, otherwise a real timer. */
function delayer(delays: readonly number[]): () => Promise<void> {
  let i = 0;
  return async () => {
    const d = delays[i++ % delays.length]!;
    if (d === 0) {
      for (let k = i % 4; k >= 0; k--) await Promise.resolve();
    } else {
      await new Promise((resolve) => setTimeout(resolve, d - 1));
    }
  };
}

function randomlyDelayed(inner: Store, delays: readonly number[]): Store {
  const wait = delayer(delays);
  return wrapStore(inner, async (_op, run) => {
    await wait();
    const result = await run();
    await wait();
    return result;
  });
}

/** A broken store whose take is a get followed, later, by a delete: not atomic. */
function nonAtomicTake(inner: Store, wait: () => Promise<void>): Store {
  return {
    ...wrapStore(inner, (_op, run) => run(), 'non-atomic'),
    take: async (k) => {
      const v = await inner.get(k);
      await wait();
      await inner.delete(k);
      return v;
    },
  };
}

/** Redeem one ticket from `n` callers at once; returns how many succeeded and the failures. */
async function raceRedeem(store: Store, n: number): Promise<{ wins: number; failures: unknown[] }> {
  const tickets = createTickets(store);
  const { ticket } = await tickets.issue(ALICE);
  const results = await Promise.allSettled(Array.from({ length: n }, () => tickets.redeem(ticket)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  return { wins: results.length - failures.length, failures };
}

function expectExactlyOnce({ wins, failures }: { wins: number; failures: unknown[] }): void {
  expect(wins).toBe(1);
  for (const f of failures) {
    expect(f).toBeInstanceOf(CredentialError);
    expect((f as CredentialError).expired).toBe(false);
  }
}

const delaysArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 16 });

describe('ticket redeemed concurrently', () => {
  it('succeeds exactly once for any number of concurrent callers (memory store)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 200 }), async (n) => {
        expectExactlyOnce(await raceRedeem(createMemoryStore(), n));
      }),
      { numRuns: 60 },
    );
  });

  it('succeeds exactly once when every store operation is randomly delayed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 40 }), delaysArb, async (n, delays) => {
        expectExactlyOnce(await raceRedeem(randomlyDelayed(createMemoryStore(), delays), n));
      }),
      { numRuns: 40 },
    );
  });

  it('succeeds exactly once under every interleaving the scheduler tries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 12 }), async (s, n) => {
        const store = wrapStore(createMemoryStore(), async (op, run) => {
          await s.schedule(Promise.resolve(), `${op}:before`);
          const result = await run();
          return s.schedule(Promise.resolve(result), `${op}:after`);
        });
        const outcome = await s.waitFor(raceRedeem(store, n));
        expectExactlyOnce(outcome);
      }),
      { numRuns: 60 },
    );
  });

  it('has teeth: the same property fails for a store whose take is get-then-delete', async () => {
    const result = await fc.check(
      fc.asyncProperty(fc.integer({ min: 2, max: 20 }), delaysArb, async (n, delays) => {
        const store = nonAtomicTake(createMemoryStore(), delayer(delays));
        expectExactlyOnce(await raceRedeem(store, n));
      }),
      { numRuns: 40 },
    );
    expect(result.failed).toBe(true);
  });

  it('opens exactly one connection when many handshakes race with one ticket through the guard', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 30 }),
        fc.option(delaysArb, { nil: undefined }),
        async (n, delays) => {
          const inner = createMemoryStore();
          const guard = createGuard({
            origins: [APP],
            tickets: true,
            store: delays ? randomlyDelayed(inner, delays) : inner,
            audit: false,
            penalties: false,
            limits: { connectRate: false, maxConnectionsPerIp: false },
          });
          const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
          const decisions: (Accept | Reject)[] = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              guard.upgrade({
                request: new Request(`http://localhost/ws?ticket=${ticket}`, {
                  headers: { origin: APP },
                }),
                ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
              }),
            ),
          );
          const accepted = decisions.filter((d) => d.ok);
          expect(accepted).toHaveLength(1);
          for (const d of decisions) {
            if (d.ok) continue;
            expect(d.reason).toBe('credentials_invalid');
            expect(d.closeCode).toBe(4001);
          }
          await guard.shutdown();
        },
      ),
      { numRuns: 30 },
    );
  });

  it('redeems each of many tickets exactly once when their redemptions interleave', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 2, max: 10 }),
        delaysArb,
        async (count, callers, delays) => {
          const tickets = createTickets(randomlyDelayed(createMemoryStore(), delays));
          const issued = await Promise.all(
            Array.from({ length: count }, (_, i) => tickets.issue({ ...ALICE, sub: `u${i}` })),
          );
          const attempts = issued.flatMap(({ ticket }, i) =>
            Array.from({ length: callers }, () =>
              tickets.redeem(ticket).then(
                (p) => ({ i, sub: p.sub }),
                () => undefined,
              ),
            ),
          );
          const wins = (await Promise.all(attempts)).filter((w) => w !== undefined);
          expect(wins).toHaveLength(count);
          expect(new Set(wins.map((w) => w.i)).size).toBe(count);
          for (const w of wins) expect(w.sub).toBe(`u${w.i}`);
        },
      ),
      { numRuns: 30 },
    );
  });
});
