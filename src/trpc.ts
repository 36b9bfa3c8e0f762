/**
 * `wsguard/trpc`: serve a tRPC v11 router over the guarded socket, with a guarded context and
 * procedure middlewares.
 *
 * @example
 * ```ts
 * import { initTRPC } from '@trpc/server';
 * import { createTRPCBridge, requirePermission, type GuardedContext, type GuardedMeta } from 'wsguard/trpc';
 *
 * const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();
 * const router = t.router({
 *   send: t.procedure.use(requirePermission('chat.send')).input(z.object({ text: z.string() })).mutation(...),
 * });
 * const bridge = createTRPCBridge({ router, guard });
 * ```
 *
 * @module
 */

export type { TRPCBridge, TRPCBridgeOptions, TRPCSession, TRPCSocket } from './trpc/bridge.ts';
export { createTRPCBridge } from './trpc/bridge.ts';
export type { ConnectionInfo, GuardedContext, GuardedMeta } from './trpc/context.ts';
export { trpcHooks } from './trpc/hooks.ts';
export type { GuardMiddleware, MiddlewareArgs } from './trpc/middleware.ts';
export { eventOutput, rateLimit, requireAccess, requirePermission } from './trpc/middleware.ts';
