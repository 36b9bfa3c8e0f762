/**
 * One call of a frame: a query, a mutation, a subscription or the stop of one. The call is read
 * as tRPC's adapter reads it, its procedure resolved (lazy routers loaded) and checked against
 * the principal of now, and then that very procedure is run; a subscription's result goes on to
 * the send loop. Every failure is answered to the call's id in tRPC's error shape.
 *
 * @module
 */
import { TRPCError } from '@trpc/server';
import { isObservable } from '@trpc/server/observable';
import type { BridgeContext } from './bridge-context.ts';
import { parseTRPCMessage, type TRPCClientOutgoingMessage } from './internals.ts';
import { permits, resolveProcedure } from './procedure.ts';
import { send, sendError } from './send.ts';
import { forget, type Session, type Subscription } from './session.ts';
import { sessionContext } from './session-context.ts';
import { runSubscription } from './subscription.ts';

/** A call as parsed, with the id it is answered by. */
type ParsedCall = TRPCClientOutgoingMessage & { readonly id: string | number };

/** The call `raw` as tRPC reads it, or undefined once a malformed one has been answered. */
function parseCall(b: BridgeContext, s: Session, raw: unknown): ParsedCall | undefined {
  let msg: TRPCClientOutgoingMessage;
  try {
    msg = parseTRPCMessage(raw, b.transformer);
  } catch (cause) {
    sendError(
      b,
      s,
      null,
      undefined,
      new TRPCError({ code: 'PARSE_ERROR', message: 'malformed message', cause }),
    );
    return undefined;
  }
  if (msg.id === null) {
    sendError(
      b,
      s,
      null,
      msg.jsonrpc,
      new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' }),
    );
    return undefined;
  }
  return msg as ParsedCall;
}

/** The input the procedure gets: a resumed subscription's `lastEventId` is merged in. */
function callInput(params: { readonly input?: unknown; readonly lastEventId?: unknown }): unknown {
  const { input, lastEventId } = params;
  if (lastEventId === undefined) return input;
  return typeof input === 'object' && input !== null
    ? { ...input, lastEventId }
    : (input ?? { lastEventId });
}

/**
 * A new subscription of the session under `id`, or undefined once it has been refused (its id is
 * live already, or the session has as many as it may).
 */
function admitSubscription(
  b: BridgeContext,
  s: Session,
  id: string | number,
  jsonrpc: '2.0' | undefined,
  path: string,
  input: unknown,
): Subscription | undefined {
  if (s.subs.has(id)) {
    const error = new TRPCError({ code: 'BAD_REQUEST', message: `duplicate id ${id}` });
    sendError(b, s, id, jsonrpc, error, 'subscription', path);
    return undefined;
  }
  if (s.subs.size >= b.maxSubscriptions) {
    const error = new TRPCError({ code: 'TOO_MANY_REQUESTS', message: 'too many subscriptions' });
    sendError(b, s, id, jsonrpc, error, 'subscription', path);
    return undefined;
  }
  const controller = new AbortController();
  const sub: Subscription = {
    id,
    jsonrpc,
    path,
    input,
    controller,
    procedure: undefined,
    forbidden: false,
  };
  s.subs.set(id, sub);
  return sub;
}

/** Whether a subscription's procedure returned something the send loop can iterate. */
function isEventSource(result: unknown): boolean {
  return (
    isObservable(result) ||
    (typeof result === 'object' && result !== null && Symbol.asyncIterator in result)
  );
}

/** Handle call `batchIndex` of a frame, to its answer (or a subscription's end). */
export async function handleCall(
  b: BridgeContext,
  s: Session,
  raw: unknown,
  batchIndex: number,
): Promise<void> {
  const msg = parseCall(b, s, raw);
  if (msg === undefined) return;
  const { id, jsonrpc } = msg;
  if (msg.method === 'subscription.stop') {
    // Only this connection's own subscriptions can be stopped: ids are looked up per session.
    s.subs.get(id)?.controller.abort();
    return;
  }
  const { path } = msg.params;
  const type = msg.method;
  const input = callInput(msg.params);
  let sub: Subscription | undefined;
  if (type === 'subscription') {
    sub = admitSubscription(b, s, id, jsonrpc, path, input);
    if (!sub) return;
  }
  try {
    // Once built, the context is used as is: awaiting its settled promise would only cost a
    // microtask turn per call.
    const ctx = s.ctxValue ?? (await sessionContext(b, s));
    // The procedure is resolved before it is checked: behind a lazy() router that has not
    // loaded, the router's table does not hold it yet, and a check that read the table would
    // find no meta.permission and allow. A loaded procedure is found without waiting.
    const found = resolveProcedure(b.router, path, type);
    const procedure = found instanceof Promise ? await found : found;
    // The waits may have outlived the socket or the subscription (stopped by the client, or
    // refused by a re-authorization that ran meanwhile and already answered it).
    if (!s.open || sub?.controller.signal.aborted) {
      if (sub) forget(s, sub);
      return;
    }
    if (sub) sub.procedure = procedure;
    // Checked against the principal of now, then run at once: the procedure that was checked
    // is the one that runs (tRPC's callProcedure would look it up again).
    if (!permits(procedure, (permission) => ctx.can(permission))) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'permission denied' });
    }
    const result = await procedure({
      path,
      getRawInput: async () => input,
      ctx,
      type,
      signal: sub?.controller.signal ?? s.abort.signal,
      batchIndex,
    });
    if (!sub) {
      send(b, s, { id, jsonrpc, result: { type: 'data', data: result } });
      return;
    }
    if (!isEventSource(result)) {
      throw new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: `subscription ${path} did not return an async iterable`,
      });
    }
    await runSubscription(b, s, sub, result);
  } catch (cause) {
    if (sub) forget(s, sub);
    if (sub?.controller.signal.aborted) return;
    sendError(b, s, id, jsonrpc, cause, type, path, input);
  }
}
