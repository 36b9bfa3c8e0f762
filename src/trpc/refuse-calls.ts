/**
 * Refusing the calls of a frame: one the guard refused (rate limit, invalid message; read
 * unparsed, see `call-ids.ts`), or one it delivered that the bridge refuses (a batch too large,
 * or over the rate once each call is charged). Each call gets the same tRPC error under its own
 * id, within the bounds of `answerRefusal` (`refusal.ts`); a call those bounds leave unanswered
 * closes the connection rather than wait forever in the client.
 *
 * @module
 */
import { getTRPCErrorFromUnknown, TRPCError, transformTRPCResponse } from '@trpc/server';
import { CloseCode } from '../core/codes.ts';
import { frameBytes } from '../frames/parse.ts';
import type { ErrorReply } from '../guard/types.ts';
import type { BridgeContext } from './bridge-context.ts';
import { type CallId, visitCallIds, type WalkEnd } from './call-ids.ts';
import { defaultTransformer } from './internals.ts';
import { answerRefusal } from './refusal.ts';
import { errorShape, reportError } from './send.ts';
import { endSession, type Session } from './session.ts';

const lenientDecoder = new TextDecoder();

/** Walk the call ids of an already parsed frame, in order, until `visit` returns false. */
function parsedCallIds(calls: readonly unknown[], visit: (call: CallId) => boolean): WalkEnd {
  for (const m of calls) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const { id, method, jsonrpc } = m as { id?: unknown; method?: unknown; jsonrpc?: unknown };
    if (method !== 'query' && method !== 'mutation' && method !== 'subscription') continue;
    if (
      ((typeof id === 'number' && Number.isFinite(id)) ||
        (typeof id === 'string' && id.length <= 256)) &&
      !visit({ id, jsonrpc: jsonrpc === '2.0' ? '2.0' : undefined })
    )
      return 'stopped';
  }
  return 'end';
}

/** The text of a frame the guard refused, or undefined when it is over the size limit. */
function refusedText(
  frame: string | ArrayBuffer | ArrayBufferView,
  maxBytes: number,
): string | undefined {
  // Never read what the guard would not: the size limit comes first.
  if (frameBytes(frame, maxBytes) > maxBytes) return undefined;
  return typeof frame === 'string' ? frame : lenientDecoder.decode(frame);
}

/**
 * The JSON of the error every reply to a refused frame carries, serialized once. The bridge made
 * this error itself, so its stack says nothing about the client's call: it is dropped even with
 * `exposeStackTraces`, where it would be most of every reply (and of the refusal's byte budget).
 */
function refusalJson(b: BridgeContext, s: Session, error: TRPCError): string {
  try {
    Object.defineProperty(error, 'stack', {
      value: undefined,
      configurable: true,
      writable: true,
    });
  } catch {
    // A stack that cannot be redefined is still stripped from the shape unless opted in.
  }
  const shape = errorShape(b, s, error, 'unknown', undefined, undefined);
  if (b.transformer === defaultTransformer) return JSON.stringify(shape);
  try {
    // biome-ignore lint/suspicious/noExplicitAny: tRPC's response union is wider than we build
    const response = transformTRPCResponse(b.config, { id: null, error: shape } as any) as {
      error: unknown;
    };
    return JSON.stringify(response.error);
  } catch {
    return JSON.stringify(shape);
  }
}

/**
 * Refuse the calls of a frame with `error`, within the bounds of `answerRefusal` (at most
 * `maxBatchSize` replies, at most one reply plus 2 bytes per byte in, ids read only as far as
 * needed). Ids of this connection's live subscriptions are skipped: a refused frame cannot end
 * them. A call the bounds leave unanswered would wait forever in the client, so then the
 * connection is closed instead: 4029 (with the retry hint) for a rate limit, 1013 (back off,
 * retry) for anything else: the client is told to slow down, not that it is broken, because the
 * unmodified client sends every call made in one tick as one batch and cannot cap it.
 */
function refuseCalls(
  b: BridgeContext,
  s: Session,
  walk: (visit: (call: CallId) => boolean) => WalkEnd | undefined,
  bytesIn: number,
  error: TRPCError,
): void {
  reportError(b, error, undefined, 'unknown', s);
  const outcome = answerRefusal(walk, {
    maxReplies: b.maxBatchSize,
    bytesIn,
    errorJson: refusalJson(b, s, error),
    skip: (id) => s.subs.has(id),
    send: (reply) => {
      if (!s.open) return;
      try {
        s.socket.send(reply);
      } catch (cause) {
        reportError(b, getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
      }
    },
  });
  if (outcome.complete || !s.open) return;
  const rate = error.code === 'TOO_MANY_REQUESTS';
  try {
    s.socket.close(
      rate ? CloseCode.RateLimited : CloseCode.TryAgainLater,
      // A close reason holds 123 bytes; the messages are short ASCII, this only makes sure.
      error.message.slice(0, 120),
    );
  } catch (cause) {
    reportError(b, getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
  }
  // Nothing more runs for a connection being closed: no later frame starts a call.
  endSession(b.sessions, s);
}

/** Refuse the calls of a frame the guard delivered (parsed): a batch too large, or over the rate. */
export function refuseParsed(
  b: BridgeContext,
  s: Session,
  calls: readonly unknown[],
  value: unknown,
  bytes: number | undefined,
  error: TRPCError,
): void {
  // The frame's size bounds what refusing it may send; estimated from below (JSON.stringify
  // drops whitespace) only when the caller did not say.
  const bytesIn = bytes ?? JSON.stringify(value).length;
  refuseCalls(b, s, (visit) => parsedCallIds(calls, visit), bytesIn, error);
}

/** Answer a frame the guard refused with `reply`'s error, per call (see `TRPCBridge.refused`). */
export function refuseFrame(
  b: BridgeContext,
  s: Session,
  reply: ErrorReply,
  frame: string | ArrayBuffer | ArrayBufferView,
): void {
  if (!s.open) return;
  // A refused keep-alive needs no answer (the client's own timeout handles a missing PONG).
  if (frame === 'PING' || frame === 'PONG') return;
  const { guard } = b;
  const { code, message, retryAfterMs } = reply.error;
  const text = refusedText(frame, guard.maxBytes);
  refuseCalls(
    b,
    s,
    (visit) => (text === undefined ? undefined : visitCallIds(text, visit)),
    frameBytes(frame, guard.maxBytes),
    new TRPCError({
      code,
      message: retryAfterMs === undefined ? message : `${message}; retry in ${retryAfterMs} ms`,
    }),
  );
}
