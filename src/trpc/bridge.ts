/**
 * tRPC v11's WebSocket protocol served over a guarded socket. It speaks exactly the wire protocol
 * of `@trpc/server/adapters/ws` (queries, mutations, subscriptions, batches, `tracked()` events
 * with `lastEventId`, `connectionParams`, `PING`/`PONG`, the reconnect notification), built on
 * tRPC's own procedure lookup (`getProcedureAtPath`, lazy routers included), `parseTRPCMessage`
 * and `getErrorShape`, so the unmodified `@trpc/client` `wsLink` talks to it.
 *
 * It is written here rather than driving `getWSConnectionHandler` through a shim because the
 * guarantees live in the loop that sends events: tRPC's loop sends a subscription's events in
 * microtasks without yielding (one fast burst starves every other client) and without looking at
 * the socket's buffer; it counts frames, not calls; and it cannot stop a subscription whose
 * principal lost the right to it.
 *
 * This file is the composition; the loops are apart: `messages.ts` (a frame, a batch) and
 * `call.ts` (one call), `subscription.ts` (the send loop) with `schedule.ts` (its turn-taking),
 * `reauthorize.ts`, `refuse-calls.ts`, `session.ts` and `send.ts`. tRPC's internals are reached
 * only through `internals.ts`.
 *
 * @module
 */
import type { AnyRouter } from '@trpc/server';
import type { ErrorReply } from '../guard/types.ts';
import type { GuardConnection } from '../state/connection.ts';
import { createBridgeContext } from './bridge-context.ts';
import { handleMessage } from './messages.ts';
import { reauthorizeAll } from './reauthorize.ts';
import { refuseFrame } from './refuse-calls.ts';
import { broadcastReconnect } from './send.ts';
import { endSession, openSession, type Session } from './session.ts';
import type { TRPCBridge, TRPCBridgeOptions, TRPCSession, TRPCSocket } from './types.ts';

export type { TRPCBridge, TRPCBridgeOptions, TRPCSession, TRPCSocket } from './types.ts';

/**
 * Serve a tRPC router over guarded sockets.
 *
 * @example
 * ```ts
 * const bridge = createTRPCBridge({ router: appRouter, guard });
 * // with wsguard's crossws hooks: see `trpcHooks` in wsguard/trpc
 * ```
 */
export function createTRPCBridge<TRouter extends AnyRouter>(
  options: TRPCBridgeOptions<TRouter>,
): TRPCBridge {
  const b = createBridgeContext(options);
  return {
    get size(): number {
      return b.sessions.size;
    },

    open(socket: TRPCSocket, connection: GuardConnection, request?: Request): TRPCSession {
      return openSession(b.sessions, socket, connection, request);
    },

    message(session: TRPCSession, value: unknown, bytes?: number): void {
      handleMessage(b, session as Session, value, bytes);
    },

    refused(
      session: TRPCSession,
      reply: ErrorReply,
      frame: string | ArrayBuffer | ArrayBufferView,
    ): void {
      refuseFrame(b, session as Session, reply, frame);
    },

    close(session: TRPCSession): void {
      endSession(b.sessions, session as Session);
    },

    reauthorize(filter?: (connection: GuardConnection) => boolean): Promise<number> {
      return reauthorizeAll(b, filter);
    },

    broadcastReconnect(): void {
      broadcastReconnect(b);
    },
  };
}
