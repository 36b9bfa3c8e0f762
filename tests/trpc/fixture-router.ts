/** The router the tRPC tests serve: chat send/subscribe with permissions, an admin call, refresh. */
import { initTRPC, tracked } from '@trpc/server';
import { z } from 'zod';
import {
  eventOutput,
  type GuardedContext,
  type GuardedMeta,
  rateLimit,
  requirePermission,
} from '../../src/trpc.ts';

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();

/** A chat event as clients may see it. */
export const ChatEvent = z.object({ room: z.string(), user: z.string(), text: z.string() });

/** An in-memory room log with waiters, so subscriptions can resume by event id. */
export class Rooms {
  readonly log = new Map<
    string,
    { id: number; event: z.infer<typeof ChatEvent> & { secret?: string } }[]
  >();
  #waiters = new Set<() => void>();
  #seq = 0;
  post(event: z.infer<typeof ChatEvent> & { secret?: string }): number {
    const id = ++this.#seq;
    const list = this.log.get(event.room) ?? [];
    list.push({ id, event });
    this.log.set(event.room, list);
    for (const w of this.#waiters) w();
    this.#waiters.clear();
    return id;
  }
  wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.add(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}

export function makeRouter(rooms: Rooms) {
  return t.router({
    whoami: t.procedure.query(({ ctx }) => ({
      sub: ctx.principal.sub,
      roles: ctx.principal.roles,
      ip: ctx.connection.ip,
    })),
    echo: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => input.n),
    chat: t.router({
      send: t.procedure
        .meta({ permission: 'chat.send' })
        .use(rateLimit({ limit: 1000, windowMs: 1000 }))
        .input(z.object({ room: z.string().max(64), text: z.string().max(2000) }))
        .mutation(({ ctx, input }) =>
          rooms.post({
            room: input.room,
            user: ctx.principal.sub,
            text: input.text,
            secret: 'server-only',
          }),
        ),
      onMessage: t.procedure
        .meta({ permission: 'chat.read' })
        .use(eventOutput(ChatEvent))
        .input(z.object({ room: z.string(), lastEventId: z.string().nullish() }))
        .subscription(async function* ({ input, signal }) {
          let last = input.lastEventId ? Number(input.lastEventId) : 0;
          while (!signal?.aborted) {
            for (const e of rooms.log.get(input.room) ?? []) {
              if (e.id > last) {
                last = e.id;
                yield tracked(String(e.id), e.event);
              }
            }
            await rooms.wait(signal);
          }
        }),
      burst: t.procedure
        .input(z.object({ n: z.number().max(200_000) }))
        .subscription(async function* ({ input }) {
          for (let i = 0; i < input.n; i++) yield i;
        }),
    }),
    admin: t.router({
      kick: t.procedure
        .use(requirePermission('admin'))
        .input(z.object({ userId: z.string() }))
        .mutation(({ input }) => input.userId),
    }),
    session: t.router({
      refresh: t.procedure
        .input(z.object({ token: z.string() }))
        .mutation(async ({ ctx, input }) => {
          const p = await ctx.refresh(input.token);
          return { expiresAt: p.expiresAt ?? null };
        }),
    }),
  });
}

export type AppRouter = ReturnType<typeof makeRouter>;
