/**
 * The router both servers of `bench/trpc.bench.ts` serve: the same procedures, with wsguard's
 * checks on the guarded side only (the baseline is tRPC's own adapter with no security at all).
 *
 * - `ping` query: the round trip another client measures during a burst;
 * - `add` mutation: zod input; guarded: `meta.permission` (checked by the bridge) and a
 *   per-procedure, per-principal `rateLimit` (budget no run exhausts);
 * - `burst` subscription: yields `n` numbers as fast as it can;
 * - `burstChecked` (guarded only): the same, every event validated by `eventOutput`.
 */
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { eventOutput, type GuardedContext, type GuardedMeta, rateLimit } from '../src/trpc.ts';

// The baseline serves it with an empty context: none of its procedures reads one.
const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();

const Burst = z.object({ n: z.number().int().min(0).max(1_000_000) });

async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** The bench router; `guarded` adds wsguard's procedure checks. */
export function makeBenchRouter(guarded: boolean) {
  const write = guarded
    ? t.procedure
        .meta({ permission: 'bench.write' })
        .use(rateLimit({ limit: 1_000_000_000, windowMs: 1000 }))
    : t.procedure;
  return t.router({
    ping: t.procedure.query(() => 'pong'),
    add: write
      .input(z.object({ a: z.number(), b: z.number() }))
      .mutation(({ input }) => input.a + input.b),
    burst: t.procedure.input(Burst).subscription(({ input }) => count(input.n)),
    ...(guarded
      ? {
          burstChecked: t.procedure
            .use(eventOutput(z.number()))
            .input(Burst)
            .subscription(({ input }) => count(input.n)),
        }
      : {}),
  });
}
