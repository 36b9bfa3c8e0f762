/**
 * A router whose privileged procedures live behind tRPC `lazy()` routers (one level and nested),
 * for the tests of `meta.permission` on calls that arrive before a lazy router has loaded. Every
 * privileged procedure counts its runs in `effects`, so a test asserts what ran, not only what the
 * client was told. Each `makeLazyRouter()` call builds fresh lazy loaders: a new router has never
 * loaded any of them.
 */
import { initTRPC, lazy } from '@trpc/server';
import { z } from 'zod';
import type { GuardedContext, GuardedMeta } from '../../src/trpc.ts';

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();

/** What the privileged procedures did. */
export interface Effects {
  wipes: number;
  purges: number;
  feeds: number;
  loads: number;
}

/** Options of {@link makeLazyRouter}. */
export interface LazyRouterOptions {
  /** How long each lazy router takes to load (so calls can arrive while it loads). */
  readonly loadMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until `signal` aborts. */
const aborted = (signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (!signal || signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/**
 * A fresh router: `admin` (lazy: `wipe`, `feed`), `ops.inner` (lazy inside lazy: `purge`),
 * `broken` (a lazy router whose load fails), plus `whoami` and `session.refresh`.
 */
export function makeLazyRouter(effects: Effects, options: LazyRouterOptions = {}) {
  const loadMs = options.loadMs ?? 20;
  const adminRouter = () =>
    t.router({
      wipe: t.procedure
        .meta({ permission: 'admin.wipe' })
        .input(z.object({ n: z.number() }))
        .mutation(({ input }) => {
          effects.wipes++;
          return input.n;
        }),
      feed: t.procedure.meta({ permission: 'admin.read' }).subscription(async function* ({
        signal,
      }) {
        effects.feeds++;
        yield 1;
        await aborted(signal);
      }),
    });
  const innerRouter = () =>
    t.router({
      purge: t.procedure.meta({ permission: 'admin.purge' }).mutation(() => {
        effects.purges++;
        return 'purged';
      }),
    });
  return t.router({
    whoami: t.procedure.query(({ ctx }) => ctx.principal.sub),
    admin: lazy(async () => {
      effects.loads++;
      await sleep(loadMs);
      return adminRouter();
    }),
    ops: lazy(async () => {
      effects.loads++;
      await sleep(loadMs);
      return t.router({
        inner: lazy(async () => {
          effects.loads++;
          await sleep(loadMs);
          return innerRouter();
        }),
      });
    }),
    broken: lazy(async (): Promise<ReturnType<typeof adminRouter>> => {
      effects.loads++;
      throw new Error('lazy router failed to load');
    }),
    session: t.router({
      refresh: t.procedure
        .input(z.object({ token: z.string() }))
        .mutation(async ({ ctx, input }) => (await ctx.refresh(input.token)).sub),
    }),
  });
}

/** The router type for the typed client. */
export type LazyRouter = ReturnType<typeof makeLazyRouter>;

/** Fresh, zeroed effects. */
export const noEffects = (): Effects => ({ wipes: 0, purges: 0, feeds: 0, loads: 0 });
