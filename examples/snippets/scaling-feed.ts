// Events across instances: a tRPC chat on the Redis Streams feed.
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { Redis } from 'ioredis';
import { StoreUnavailableError } from 'wsguard';
import { createRedisFeed, isStreamId, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';
import type { GuardedContext, GuardedMeta } from 'wsguard/trpc';
import { z } from 'zod';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);
redis.on('error', (error) => console.warn('redis:', error.message));

const Room = z.string().regex(/^[a-z0-9-]{1,32}$/);
type ChatMessage = { user: string; text: string };
// A hash tag in the prefix keeps every room in one slot on Redis Cluster (one XREAD reads them all).
const feed = createRedisFeed<ChatMessage>({ client: redis, prefix: 'chat:{feed}:' });

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();
export const router = t.router({
  // a mutation, on any instance; `id` is the page's id for this message, the same on a retry
  send: t.procedure
    .meta({ permission: 'chat.send' })
    .input(z.object({ room: Room, text: z.string().min(1).max(500), id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const message = { user: ctx.principal.sub, text: input.text };
      try {
        // A failed publish is "unknown" (it may have gone through): the retry with the same key
        // is appended at most once.
        return await feed.publish(input.room, message, {
          idempotencyKey: `${ctx.principal.sub}:${input.id}`,
        });
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'retry', cause: error });
        }
        throw error;
      }
    }),
  // a subscription, on any instance; a client resumes anywhere with its last id
  onMessage: t.procedure
    .meta({ permission: 'chat.read' })
    .input(z.object({ room: Room, lastEventId: z.string().refine(isStreamId).nullish() }))
    .subscription(async function* ({ input, signal }) {
      for await (const [id, message] of feed.follow(
        input.room,
        input.lastEventId ?? null,
        signal,
      )) {
        yield tracked(id, message);
      }
    }),
});
