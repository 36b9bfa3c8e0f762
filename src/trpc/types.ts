/**
 * The bridge's public types: the socket it writes to, its options, a served connection, and the
 * bridge itself. They live apart from the composition so that the pieces (and `trpcHooks`) name
 * what they serve without importing the bridge that wires them.
 *
 * @module
 */
import type { AnyRouter, TRPCError } from '@trpc/server';
import type { Principal } from '../auth/principal.ts';
import type { ErrorReply, Guard } from '../guard/types.ts';
import type { GuardConnection } from '../state/connection.ts';
import type { GuardedContext } from './context.ts';

/** The socket the bridge writes to; crossws peers fit it. */
export interface TRPCSocket {
  /** Send a text frame. */
  send(data: string): unknown;
  /** Close the socket. */
  close(code?: number, reason?: string): void;
  /** Bytes queued but not yet sent (0 where the runtime cannot tell). */
  readonly bufferedAmount?: number;
}

/** Options for {@link createTRPCBridge}. */
export interface TRPCBridgeOptions<TRouter extends AnyRouter> {
  /** The router to serve. */
  readonly router: TRouter;
  /** The guard whose connections carry the principals. */
  readonly guard: Guard;
  /**
   * Add app fields to the context. The guarded fields (`principal`, `connection`, `can`,
   * `canAccess`, `refresh`) always win over what this returns.
   */
  readonly createContext?: (opts: {
    readonly principal: Principal;
    readonly connection: GuardConnection;
    readonly connectionParams: Record<string, string> | null;
  }) => object | Promise<object>;
  /**
   * Live subscriptions per connection.
   * @default 100
   */
  readonly maxSubscriptions?: number;
  /**
   * Calls in one batch frame; each call is also charged to the guard's message rate limit. Also
   * the most error replies a refused frame gets (see {@link TRPCBridge.refused}).
   * @default 100
   */
  readonly maxBatchSize?: number;
  /**
   * Bytes buffered for a client before its subscriptions pause until it reads.
   * @default 262144
   */
  readonly highWaterMark?: number;
  /**
   * How long a paused subscription waits for the client to read before the connection is closed
   * with 1013 (so a subscriber that does not read is not buffered without bound).
   * @default 10000
   */
  readonly drainTimeoutMs?: number;
  /**
   * Longest run of event sending, in ms, before yielding to the event loop, so one fast
   * subscription cannot starve other connections. A yield costs microseconds (`setImmediate`), so
   * a short slice costs a burst little and bounds what another client waits for.
   * @default 1
   */
  readonly sliceMs?: number;
  /**
   * Extra re-authorization of a live subscription after a refresh or role change (the
   * procedure's `meta.permission` is always re-checked). Return false to stop it with FORBIDDEN.
   */
  readonly reauthorize?: (
    ctx: GuardedContext,
    subscription: { path: string; input: unknown },
  ) => boolean | Promise<boolean>;
  /**
   * Send the server's stack trace in error replies (`error.data.stack`). Off unless set here,
   * whatever tRPC's own `isDev` (on unless `NODE_ENV` is `'production'`) or a formatter says: a
   * stack tells every client the server's file paths and dependency versions. Turn it on only for
   * local development. Refusals of whole frames (rate limit, invalid message, batch too large)
   * never carry one: the bridge made those errors itself, and their replies are size-bounded.
   * @default false
   */
  readonly exposeStackTraces?: boolean;
  /** Errors thrown by procedures and by the bridge. @default console.error for INTERNAL_SERVER_ERROR */
  readonly onError?: (
    error: TRPCError,
    info: { path: string | undefined; type: string; connectionId: string },
  ) => void;
}

/** One connection served by the bridge. */
export interface TRPCSession {
  /** The guard's connection. */
  readonly connection: GuardConnection;
  /** Live subscription count. */
  readonly subscriptions: number;
}

/** The bridge. */
export interface TRPCBridge {
  /** Start serving a socket the guard accepted. */
  open(socket: TRPCSocket, connection: GuardConnection, request?: Request): TRPCSession;
  /**
   * Handle a frame the guard delivered (parsed JSON, or the `PING`/`PONG` text). `frameBytes`, the
   * frame's size, bounds what refusing it may send (a batch too large, or over the rate); without
   * it the size is estimated from the value.
   */
  message(session: TRPCSession, value: unknown, frameBytes?: number): void;
  /**
   * Answer a frame the guard refused with an error reply (rate limit, invalid message): its calls
   * get a tRPC error with the reply's code, so the unmodified client's calls fail instead of
   * waiting forever (it ignores a reply without an `id`). Bounded: never more than `maxBatchSize`
   * replies, never more bytes out than one reply plus twice the frame, and the frame is read only
   * as far as the ids answered (never parsed, never over the guard's `maxBytes`). A call left
   * unanswered by those bounds is not left waiting: the connection is closed (4029 for a rate
   * limit, with its retry hint; 1013 otherwise), which fails the client's pending calls and makes
   * it reconnect after a back-off.
   */
  refused(
    session: TRPCSession,
    reply: ErrorReply,
    frame: string | ArrayBuffer | ArrayBufferView,
  ): void;
  /** The socket closed: stop everything it ran. */
  close(session: TRPCSession): void;
  /** Re-check every live subscription (e.g. after a role change); returns how many were stopped. */
  reauthorize(filter?: (connection: GuardConnection) => boolean): Promise<number>;
  /** Tell every client to reconnect (before a graceful shutdown). */
  broadcastReconnect(): void;
  /** Open sessions. */
  readonly size: number;
}
