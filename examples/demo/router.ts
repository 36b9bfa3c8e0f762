/**
 * The demo's tRPC router (fixed by DESIGN.md): `chat.send`, `chat.onMessage` (tracked,
 * resumable), `admin.kick`, `session.refresh`, plus `admin.events`, the live panel of the
 * guard's decisions, and `admin.overview` / `admin.unban` for the admin view.
 */
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import { type AuditEvent, StoreUnavailableError } from '../../src/mod.ts';
import {
  eventOutput,
  type GuardedContext,
  type GuardedMeta,
  rateLimit,
  requirePermission,
} from '../../src/trpc.ts';
import type { BanSubject } from './admin/ban-book.ts';
import type { AdminOverview } from './admin/overview.ts';
import type { EventFeed } from './event-feed.ts';

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

/** Said whole, whichever rule a room name breaks: the page shows it as "Room: use …". */
const ROOM_RULE = 'use 1 to 32 lowercase letters, digits or dashes';
const Room = z
  .string()
  .min(1, ROOM_RULE)
  .max(32, ROOM_RULE)
  .regex(/^[a-z0-9-]+$/, ROOM_RULE);

/** What the router needs from the app. */
export interface DemoDeps {
  readonly chat: EventFeed<ChatMessage>;
  readonly audit: EventFeed<AuditEvent>;
  readonly kick: (userId: string) => Promise<number>;
  /** The admin view's data (this instance's refusals, bans, connections, traffic). */
  readonly overview: () => Promise<AdminOverview>;
  /** Lift a ban and take it out of the ban book. */
  readonly unban: (subject: BanSubject, id: string) => Promise<void>;
}

/**
 * A client's last event id, checked by the feed it is for: text that is not one of its ids is a
 * BAD_REQUEST (zod's refusal), never handed to the feed (the Redis feed throws a TypeError on it,
 * which would surface as an internal error).
 */
function lastEventId(feed: EventFeed<unknown>) {
  return z
    .string()
    .max(64)
    .refine((id) => feed.isEventId(id), 'not an event id of this feed')
    .nullish();
}

/**
 * Publish, answering a store outage as what it is: try again shortly, not a server bug. The
 * outcome of a publish that failed so is unknown (it may have gone through): the page retries
 * with the same message id, and the feed appends it once.
 */
async function publish<T>(
  feed: EventFeed<T>,
  topic: string,
  value: T,
  idempotencyKey: string | undefined,
): Promise<string> {
  try {
    return await feed.publish(topic, value, idempotencyKey === undefined ? {} : { idempotencyKey });
  } catch (cause) {
    if (!(cause instanceof StoreUnavailableError)) throw cause;
    throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'chat unavailable; retry', cause });
  }
}

/** Build the demo router. */
export function createDemoRouter(deps: DemoDeps) {
  return t.router({
    chat: t.router({
      send: t.procedure
        .meta({ permission: 'chat.send' })
        .use(rateLimit({ limit: 5, windowMs: 1000, burst: 10 }))
        .input(
          z.object({
            room: Room,
            text: z.string().trim().min(1).max(500),
            // The page's id for this message, the same on every retry of it.
            id: z.string().uuid().optional(),
          }),
        )
        .mutation(async ({ ctx, input }) => {
          const message = {
            room: input.room,
            user: ctx.principal.sub,
            text: input.text,
            at: new Date().toISOString(),
          };
          // Per user: another user sending the same id cannot suppress this user's message.
          const key = input.id === undefined ? undefined : `${ctx.principal.sub}:${input.id}`;
          return { id: await publish(deps.chat, input.room, message, key) };
        }),
      onMessage: t.procedure
        .meta({ permission: 'chat.read' })
        .use(eventOutput(ChatMessage))
        .input(z.object({ room: Room, lastEventId: lastEventId(deps.chat) }))
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
      overview: t.procedure.use(requirePermission('admin')).query(() => deps.overview()),
      unban: t.procedure
        .use(requirePermission('admin'))
        .input(z.object({ subject: z.enum(['ip', 'user']), id: z.string().min(1).max(64) }))
        .mutation(async ({ input }) => {
          await deps.unban(input.subject, input.id);
          return { lifted: true };
        }),
      events: t.procedure
        .use(requirePermission('admin'))
        .input(z.object({ lastEventId: lastEventId(deps.audit) }).optional())
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
