/**
 * Issue 12: the model-based lifecycle property. Random sequences of connect, frame, flood,
 * refresh, ban (local and remote), unban, kick, store down/up, wait, close and races of two of
 * them drive two real guard instances on one store — memory, and Redis through a TCP proxy — and
 * every invariant of tests/lifecycle/invariants.ts is checked after every step.
 *
 * Bounded in `npm test` (`LIFECYCLE_RUNS` unset: 40 runs on memory and 14 on Redis, 25 steps at
 * most, within 8 s per store, shrinking included). The long form is `npm run fuzz:lifecycle`
 * (`LIFECYCLE_RUNS=2000`: 60 steps, waits long enough for tokens to expire, 10 min per store).
 * `LIFECYCLE_BUDGET_MS`, `LIFECYCLE_COMMANDS`, `LIFECYCLE_WAITS` tune it; `LIFECYCLE_SEED` and
 * `LIFECYCLE_PATH` replay a failure; `LIFECYCLE_STATS=1` prints how often each outcome was seen.
 * Every counterexample becomes a named test in regressions.test.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipKey } from '../../src/state/ip-key.ts';
import { announceSkip, redisSkipReason } from '../store/redis-env.ts';
import { lifecycleCommands } from './commands.ts';
import { IPS, keyOf, type Variant } from './config.ts';
import { Lifecycle } from './lifecycle.ts';
import { closeRedisRig, openRedisRig, type RedisRig, type StoreKind } from './world.ts';

const env = process.env;
const long = env['LIFECYCLE_RUNS'] !== undefined;
/** Runs per store (Redis runs cost more: a third of them). */
const RUNS = Number(env['LIFECYCLE_RUNS'] ?? 40);
/** Wall-clock budget per store, shrinking included: past it, remaining runs pass at once. */
const BUDGET_MS = Number(env['LIFECYCLE_BUDGET_MS'] ?? (long ? 600_000 : 8_000));
const MAX_COMMANDS = Number(env['LIFECYCLE_COMMANDS'] ?? (long ? 60 : 25));
/** How long a `wait` step may be (ms): long enough in the long form for short tokens to expire. */
const WAITS = (env['LIFECYCLE_WAITS'] ?? (long ? '30,300,1200' : '10,100')).split(',').map(Number);
const seed = env['LIFECYCLE_SEED'] !== undefined ? { seed: Number(env['LIFECYCLE_SEED']) } : {};
const path = env['LIFECYCLE_PATH'] !== undefined ? { path: env['LIFECYCLE_PATH'] } : {};

if (env['LIFECYCLE_STATS'])
  afterAll(() => {
    const rows = [...Lifecycle.tally].sort(([a], [b]) => a.localeCompare(b));
    console.log(rows.map(([k, n]) => `${String(n).padStart(7)}  ${k}`).join('\n'));
  });

const skip = await redisSkipReason();
announceSkip('tests/lifecycle/lifecycle.property.test.ts', skip);

async function property(kind: StoreKind, rig: RedisRig | undefined, runs: number): Promise<void> {
  const deadline = Date.now() + BUDGET_MS;
  let ran = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<Variant>('first-message', 'anonymous'),
      fc.commands(lifecycleCommands({ waits: WAITS }), {
        maxCommands: MAX_COMMANDS,
        size: 'max',
      }),
      async (variant, cmds) => {
        // Past the budget every run (and every shrink candidate) passes at once: bounded.
        if (Date.now() > deadline) return;
        ran++;
        const lc = Lifecycle.create(kind, variant, rig);
        try {
          await fc.asyncModelRun(() => ({ model: {}, real: lc }), cmds);
        } finally {
          await lc.dispose();
        }
      },
    ),
    { numRuns: runs, ...seed, ...path },
  );
  // Said, not hidden: on a slow machine the budget may end the runs early.
  if (ran < runs)
    console.info(`lifecycle (${kind}): ${ran} of ${runs} runs within ${BUDGET_MS} ms`);
}

describe('lifecycle property: two guards on one memory store', () => {
  it("keys addresses as the guard does (config.ts keyOf is src/state/ip-key.ts's ipKey at /64)", () => {
    for (const ip of IPS) expect(keyOf(ip)).toBe(ipKey(ip, 64));
  });

  it(
    'holds every invariant after every step',
    async () => {
      await property('memory', undefined, RUNS);
    },
    BUDGET_MS + 30_000,
  );
});

describe.skipIf(skip !== undefined)(
  `lifecycle property: two guards on one Redis, through a proxy that is cut${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    let rig: RedisRig;
    beforeAll(async () => {
      rig = await openRedisRig();
    });
    afterAll(async () => {
      await closeRedisRig(rig);
    });
    it(
      'holds every invariant after every step',
      async () => {
        await property('redis', rig, Math.max(1, Math.ceil(RUNS / 3)));
      },
      BUDGET_MS + 30_000,
    );
  },
);
