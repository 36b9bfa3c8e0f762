/**
 * The demo's tRPC router (fixed by DESIGN.md): `chat.send`, `chat.onMessage` (tracked,
 * resumable), `admin.kick`, `session.refresh`, plus `admin.events`, the live panel of the
 * guard's decisions.
 */
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import type { AuditEvent } from '../../src/mod.ts';
import {
  eventOutput,
  type GuardedContext,
  type GuardedMeta,
  rateLimit,
  requirePermission,
} from '../../src/trpc.ts';
import type { Feed } from './feed.ts';

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();

/** A chat message as every client sees it. */
export const ChatMessage = z.object({
  room: z.string(),
  user: z.string(),
  text: z.string(),
  at: z.string(),
});
/** One chat message. */
export type ChatMessage = z.infer<typeof ChatMessage>;

const Room = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and dashes');

/** What the router needs from the app. */
export interface DemoDeps {
  readonly chat: Feed<ChatMessage>;
  readonly audit: Feed<AuditEvent>;
  readonly kick: (userId: string) => Promise<number>;
}

/** Build the demo router. */
export function createDemoRouter(deps: DemoDeps) {
  return t.router({
    chat: t.router({
      send: t.procedure
        .meta({ permission: 'chat.send' })
        .use(rateLimit({ limit: 5, windowMs: 1000, burst: 10 }))
        .input(z.object({ room: Room, text: z.string().trim().min(1).max(500) }))
        .mutation(({ ctx, input }) => {
          const id = deps.chat.push(input.room, {
            room: input.room,
            user: ctx.principal.sub,
            text: input.text,
            at: new Date().toISOString(),
          });
          return { id };
        }),
      onMessage: t.procedure
        .meta({ permission: 'chat.read' })
        .use(eventOutput(ChatMessage))
        .input(z.object({ room: Room, lastEventId: z.string().nullish() }))
        .subscription(async function* ({ input, signal }) {
          for await (const [id, message] of deps.chat.follow(
            input.room,
            input.lastEventId ?? null,
            signal,
          )) {
            yield tracked(id, message);
          }
        }),
    }),
    admin: t.router({
      kick: t.procedure
        .use(requirePermission('admin'))
        .input(z.object({ userId: z.string().min(1).max(64) }))
        .mutation(async ({ input }) => ({ closed: await deps.kick(input.userId) })),
      events: t.procedure
        .use(requirePermission('admin'))
        .input(z.object({ lastEventId: z.string().nullish() }).optional())
        .subscription(async function* ({ input, signal }) {
          for await (const [id, event] of deps.audit.follow(
            'audit',
            input?.lastEventId ?? null,
            signal,
          )) {
            yield tracked(id, event);
          }
        }),
    }),
    session: t.router({
      refresh: t.procedure
        .input(z.object({ token: z.string().min(1).max(8192) }))
        .mutation(async ({ ctx, input }) => {
          try {
            const p = await ctx.refresh(input.token);
            return { expiresAt: p.expiresAt ?? null };
          } catch (cause) {
            throw cause instanceof TRPCError
              ? cause
              : new TRPCError({ code: 'UNAUTHORIZED', cause });
          }
        }),
    }),
  });
}

/** The demo router's type, shared with the page. */
export type DemoRouter = ReturnType<typeof createDemoRouter>;
