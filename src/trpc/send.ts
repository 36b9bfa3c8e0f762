/**
 * What the bridge writes to a session's socket: responses, error replies in tRPC's shape, the
 * reconnect notification, and the report of every error on the way. A socket that throws on send
 * is reported, never allowed to take the bridge down, and nothing is sent to a session that ended.
 *
 * @module
 */
import { getErrorShape, getTRPCErrorFromUnknown, type TRPCError } from '@trpc/server';
import type { BridgeContext } from './bridge-context.ts';
import { withoutStack } from './error-shape.ts';
import { feedFailure, withFeedCode } from './feed-failure.ts';
import type { Session } from './session.ts';

/** Tell the app about an error (`onError`, or console.error for INTERNAL_SERVER_ERROR). */
export function reportError(
  b: BridgeContext,
  error: TRPCError,
  path: string | undefined,
  type: string,
  s: Session,
): void {
  try {
    const { options } = b;
    if (options.onError) options.onError(error, { path, type, connectionId: s.connection.id });
    else if (error.code === 'INTERNAL_SERVER_ERROR') console.error('[wsguard/trpc]', error);
  } catch {
    // A failing error handler must not take the connection down.
  }
}

/** Send one response (serialized with the router's transformer) while the session is open. */
export function send(b: BridgeContext, s: Session, message: unknown): void {
  if (!s.open) return;
  try {
    s.socket.send(b.serialize(message));
  } catch (cause) {
    reportError(b, getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
  }
}

/**
 * The error's shape as tRPC would send it (the router's formatter included), without a stack
 * unless the app opted in; tRPC's generic internal error when building it fails.
 */
export function errorShape(
  b: BridgeContext,
  s: Session,
  error: TRPCError,
  type: string,
  path: string | undefined,
  input: unknown,
): unknown {
  try {
    const shape = getErrorShape({
      config: b.errorConfig,
      error,
      // biome-ignore lint/suspicious/noExplicitAny: the type is one of tRPC's procedure types or 'unknown'
      type: type as any,
      path,
      input,
      ctx: s.ctxValue,
    });
    // A procedure's `.errors()` shape was built with tRPC's own `isDev`, and a formatter may
    // copy the stack in: only an explicit opt-in lets one out.
    return b.exposeStacks ? shape : withoutStack(shape);
  } catch {
    return {
      code: -32603,
      message: 'Internal server error',
      data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
    };
  }
}

/** Report `cause` and answer the call `id` with it. */
export function sendError(
  b: BridgeContext,
  s: Session,
  id: string | number | null,
  jsonrpc: '2.0' | undefined,
  cause: unknown,
  type = 'unknown',
  path?: string,
  input?: unknown,
): void {
  // A failed event feed is answered with its contract code ("resume" or "reload").
  const feed = feedFailure(cause);
  const error = feed?.error ?? getTRPCErrorFromUnknown(cause);
  reportError(b, error, path, type, s);
  const shape = errorShape(b, s, error, type, path, input);
  send(b, s, { id, jsonrpc, error: feed ? withFeedCode(shape, feed.code) : shape });
}

/** Tell every open session's client to reconnect (before a graceful shutdown). */
export function broadcastReconnect(b: BridgeContext): void {
  // A notification, not a response: tRPC's transformTRPCResponse reads `result` and throws
  // on a message without one, so it is sent as is (it carries no data to transform).
  const notification = JSON.stringify({ id: null, method: 'reconnect' });
  for (const s of b.sessions) {
    if (!s.open) continue;
    try {
      s.socket.send(notification);
    } catch (cause) {
      reportError(b, getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
    }
  }
}
