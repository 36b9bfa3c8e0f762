// A typed tRPC v11 chat behind the guard: npx tsx trpc-server.ts
import { randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import { initTRPC, tracked } from '@trpc/server';
import { createGuard } from 'wsguard';
import { serve } from 'wsguard/adapters/node';
import {
  createTRPCBridge,
  eventOutput,
  type GuardedContext,
  type GuardedMeta,
  trpcHooks,
} from 'wsguard/trpc';
import { z } from 'zod';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');

const Room = z.object({ room: z.string().regex(/^[a-z0-9-]{1,32}$/) });
const ChatMessage = z.object({ room: z.string(), user: z.string(), text: z.string() });
type ChatMessage = z.infer<typeof ChatMessage>;
const rooms = new EventEmitter(); // one process; several instances: createRedisFeed (docs/scaling.md)

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();
const router = t.router({
  send: t.procedure
    .meta({ permission: 'chat.send' })
    .input(Room.extend({ text: z.string().trim().min(1).max(500) }))
    .mutation(({ ctx, input }) => {
      const message: ChatMessage = { room: input.room, user: ctx.principal.sub, text: input.text };
      rooms.emit(input.room, message);
      return message;
    }),
  onMessage: t.procedure
    .meta({ permission: 'chat.read' })
    .use(eventOutput(ChatMessage))
    .input(Room)
    .subscription(async function* ({ input, signal }) {
      for await (const [message] of on(rooms, input.room, { signal })) {
        yield tracked(randomUUID(), message as ChatMessage);
      }
    }),
});
/** The client imports this type, and nothing else, from the server. */
export type AppRouter = typeof router;

const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  // Every procedure's `permission` must be granted to some role, or its calls are refused.
  permissions: { roles: { user: ['chat.*'] } },
});
const server = await serve({
  guard,
  port: Number(process.env.PORT ?? 8787),
  hooks: trpcHooks(createTRPCBridge({ router, guard })),
});
console.log(`tRPC over ${server.url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
