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
 * @module
 */
import type { AnyRouter } from '@trpc/server';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import {
  defaultTransformer,
  getErrorShape,
  getTRPCErrorFromUnknown,
  isTrackedEnvelope,
  parseConnectionParamsFromUnknown,
  parseTRPCMessage,
  TRPCError,
  transformTRPCResponse,
} from '@trpc/server/unstable-core-do-not-import';
import type { Principal } from '../auth/principal.ts';
import { CloseCode } from '../core/codes.ts';
import { isGuardError } from '../core/errors.ts';
import { frameBytes } from '../frames/parse.ts';
import type { ErrorReply, Guard } from '../guard/types.ts';
import type { GuardConnection } from '../state/connection.ts';
import { type CallId, visitCallIds, type WalkEnd } from './call-ids.ts';
import type { GuardedContext } from './context.ts';
import { shapeConfig, withoutStack } from './error-shape.ts';
import { permits, type ResolvedProcedure, resolveProcedure } from './procedure.ts';
import { answerRefusal } from './refusal.ts';

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

interface Subscription {
  readonly id: string | number;
  readonly jsonrpc: '2.0' | undefined;
  readonly path: string;
  readonly input: unknown;
  readonly controller: AbortController;
  /** Once resolved (a lazy router may still be loading): what re-authorization checks. */
  procedure: ResolvedProcedure | undefined;
  forbidden: boolean;
}

interface Session extends TRPCSession {
  readonly socket: TRPCSocket;
  readonly subs: Map<string | number, Subscription>;
  readonly abort: AbortController;
  open: boolean;
  waitingForParams: boolean;
  connectionParams: Record<string, string> | null;
  ctx: Promise<GuardedContext> | undefined;
  ctxValue: GuardedContext | undefined;
}

const ABORTED = Symbol('aborted');

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
 * Run `fn` on a later turn of the event loop, after pending I/O. `setImmediate` where the runtime
 * has it (Node, Bun, Deno): a 0 ms timer is clamped to 1 ms or more (4 ms once nested, in Deno),
 * time a burst would sit idle on every slice and another client would wait on every yield.
 */
const nextTurn: (fn: () => void) => void = (() => {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return typeof immediate === 'function'
    ? (fn: () => void) => {
        immediate(fn);
      }
    : (fn: () => void) => {
        setTimeout(fn, 0);
      };
})();

/**
 * Fairness: a run of sends that has lasted `sliceMs` since the last turn of the event loop yields
 * to it. A marker resets the slice whenever the loop turns, so sparse events never wait.
 */
function createSlicer(sliceMs: number): () => boolean {
  let start: number | undefined;
  const reset = (): void => {
    start = undefined;
  };
  return () => {
    const t = performance.now();
    if (start === undefined) {
      start = t;
      nextTurn(reset);
      return false;
    }
    return t - start >= sliceMs;
  };
}

const macrotask = (): Promise<void> => new Promise((resolve) => nextTurn(resolve));

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
  const { router, guard } = options;
  const config = router._def._config;
  const transformer = config.transformer;
  const maxSubscriptions = options.maxSubscriptions ?? 100;
  const maxBatchSize = options.maxBatchSize ?? 100;
  const highWaterMark = options.highWaterMark ?? 256 * 1024;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const shouldYield = createSlicer(options.sliceMs ?? 1);
  const sessions = new Set<Session>();
  const exposeStacks = options.exposeStackTraces === true;
  // Error shapes are built with the bridge's decision as tRPC's `isDev`, never tRPC's own.
  const errorConfig = shapeConfig(config, exposeStacks);

  const reportError = (
    error: TRPCError,
    path: string | undefined,
    type: string,
    s: Session,
  ): void => {
    try {
      if (options.onError) options.onError(error, { path, type, connectionId: s.connection.id });
      else if (error.code === 'INTERNAL_SERVER_ERROR') console.error('[wsguard/trpc]', error);
    } catch {
      // A failing error handler must not take the connection down.
    }
  };

  // Without a transformer, tRPC's transformTRPCResponse only copies the response (two object
  // spreads per event, a measurable share of a subscription's cost) into the same JSON.
  const serialize: (message: unknown) => string =
    transformer === defaultTransformer
      ? (message) => JSON.stringify(message)
      : // biome-ignore lint/suspicious/noExplicitAny: tRPC's response union is wider than we build
        (message) => JSON.stringify(transformTRPCResponse(config, message as any));

  const send = (s: Session, message: unknown): void => {
    if (!s.open) return;
    try {
      s.socket.send(serialize(message));
    } catch (cause) {
      reportError(getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
    }
  };

  const errorShape = (
    s: Session,
    error: TRPCError,
    type: string,
    path: string | undefined,
    input: unknown,
  ): unknown => {
    try {
      const shape = getErrorShape({
        config: errorConfig,
        error,
        // biome-ignore lint/suspicious/noExplicitAny: the type is one of tRPC's procedure types or 'unknown'
        type: type as any,
        path,
        input,
        ctx: s.ctxValue,
      });
      // A procedure's `.errors()` shape was built with tRPC's own `isDev`, and a formatter may
      // copy the stack in: only an explicit opt-in lets one out.
      return exposeStacks ? shape : withoutStack(shape);
    } catch {
      return {
        code: -32603,
        message: 'Internal server error',
        data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
      };
    }
  };

  const sendError = (
    s: Session,
    id: string | number | null,
    jsonrpc: '2.0' | undefined,
    cause: unknown,
    type = 'unknown',
    path?: string,
    input?: unknown,
  ): void => {
    const error = getTRPCErrorFromUnknown(cause);
    reportError(error, path, type, s);
    send(s, { id, jsonrpc, error: errorShape(s, error, type, path, input) });
  };

  /** Stop everything a session runs (the socket closed, or the bridge is closing it). */
  const endSession = (s: Session): void => {
    if (!s.open) return;
    s.open = false;
    sessions.delete(s);
    for (const sub of s.subs.values()) sub.controller.abort();
    s.subs.clear();
    s.abort.abort();
  };

  /** Remove a subscription from its session, unless its id already names a newer one. */
  const forget = (s: Session, sub: Subscription): void => {
    if (s.subs.get(sub.id) === sub) s.subs.delete(sub.id);
  };

  /**
   * The JSON of the error every reply to a refused frame carries, serialized once. The bridge made
   * this error itself, so its stack says nothing about the client's call: it is dropped even with
   * `exposeStackTraces`, where it would be most of every reply (and of the refusal's byte budget).
   */
  const refusalJson = (s: Session, error: TRPCError): string => {
    try {
      Object.defineProperty(error, 'stack', {
        value: undefined,
        configurable: true,
        writable: true,
      });
    } catch {
      // A stack that cannot be redefined is still stripped from the shape unless opted in.
    }
    const shape = errorShape(s, error, 'unknown', undefined, undefined);
    if (transformer === defaultTransformer) return JSON.stringify(shape);
    try {
      // biome-ignore lint/suspicious/noExplicitAny: tRPC's response union is wider than we build
      const response = transformTRPCResponse(config, { id: null, error: shape } as any) as {
        error: unknown;
      };
      return JSON.stringify(response.error);
    } catch {
      return JSON.stringify(shape);
    }
  };

  /**
   * Refuse the calls of a frame with `error`, within the bounds of `answerRefusal` (at most
   * `maxBatchSize` replies, at most one reply plus 2 bytes per byte in, ids read only as far as
   * needed). Ids of this connection's live subscriptions are skipped: a refused frame cannot end
   * them. A call the bounds leave unanswered would wait forever in the client, so then the
   * connection is closed instead: 4029 (with the retry hint) for a rate limit, 1013 (back off,
   * retry) for anything else: the client is told to slow down, not that it is broken, because the
   * unmodified client sends every call made in one tick as one batch and cannot cap it.
   */
  const refuseCalls = (
    s: Session,
    walk: (visit: (call: CallId) => boolean) => WalkEnd | undefined,
    bytesIn: number,
    error: TRPCError,
  ): void => {
    reportError(error, undefined, 'unknown', s);
    const outcome = answerRefusal(walk, {
      maxReplies: maxBatchSize,
      bytesIn,
      errorJson: refusalJson(s, error),
      skip: (id) => s.subs.has(id),
      send: (reply) => {
        if (!s.open) return;
        try {
          s.socket.send(reply);
        } catch (cause) {
          reportError(getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
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
      reportError(getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
    }
    // Nothing more runs for a connection being closed: no later frame starts a call.
    endSession(s);
  };

  /** Refuse the calls of a frame the guard delivered (parsed): a batch too large, or over the rate. */
  const refuseParsed = (
    s: Session,
    calls: readonly unknown[],
    value: unknown,
    bytes: number | undefined,
    error: TRPCError,
  ): void => {
    // The frame's size bounds what refusing it may send; estimated from below (JSON.stringify
    // drops whitespace) only when the caller did not say.
    const bytesIn = bytes ?? JSON.stringify(value).length;
    refuseCalls(s, (visit) => parsedCallIds(calls, visit), bytesIn, error);
  };

  const buildContext = (s: Session): Promise<GuardedContext> => {
    const c = s.connection;
    const base: GuardedContext = {
      get principal(): Principal {
        // Read through to the guard's state: an in-band refresh replaces the principal.
        return c.principal as Principal;
      },
      connection: { id: c.id, ip: c.ip, origin: c.origin, userAgent: c.userAgent },
      can: (permission) => c.principal !== undefined && guard.can(c.principal, permission),
      canAccess: (resource) =>
        c.principal ? guard.canAccess(c.principal, resource) : Promise.resolve(false),
      refresh: async (token) => {
        let principal: Principal;
        try {
          principal = await guard.refresh(c, token);
        } catch (cause) {
          // A refused credential is the caller's problem, not a server fault.
          throw isGuardError(cause)
            ? new TRPCError({ code: 'UNAUTHORIZED', message: 'invalid token', cause })
            : cause;
        }
        await reauthorizeSession(s);
        return principal;
      },
    };
    if (!options.createContext) return Promise.resolve(base);
    return Promise.resolve(
      options.createContext({
        principal: c.principal as Principal,
        connection: c,
        connectionParams: s.connectionParams,
      }),
    ).then((extra) => {
      const ctx = Object.create(null) as Record<string, unknown>;
      for (const [k, v] of Object.entries(extra)) ctx[k] = v;
      return Object.defineProperties(
        ctx,
        Object.getOwnPropertyDescriptors(base),
      ) as unknown as GuardedContext;
    });
  };

  const context = (s: Session): Promise<GuardedContext> => {
    if (!s.ctx) {
      s.ctx = buildContext(s).then((ctx) => {
        s.ctxValue = ctx;
        return ctx;
      });
      s.ctx.catch(() => {});
    }
    return s.ctx;
  };

  /**
   * Whether a live subscription may go on: its procedure's `meta.permission`, then the
   * `reauthorize` hook. A subscription still waiting for its lazy router is resolved here too,
   * so it is judged by its real meta; one that cannot be resolved is not allowed (this rejects).
   */
  const stillAllowed = async (ctx: GuardedContext, sub: Subscription): Promise<boolean> => {
    const procedure = sub.procedure ?? (await resolveProcedure(router, sub.path, 'subscription'));
    if (!permits(procedure, (permission) => ctx.can(permission))) return false;
    if (options.reauthorize)
      return await options.reauthorize(ctx, { path: sub.path, input: sub.input });
    return true;
  };

  /** Wait until the client has read enough; false when it did not in time (then close 1013). */
  const drain = async (s: Session, signal: AbortSignal): Promise<boolean> => {
    const deadline = Date.now() + drainTimeoutMs;
    while ((s.socket.bufferedAmount ?? 0) > highWaterMark) {
      if (signal.aborted || !s.open) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  };

  const runSubscription = async (s: Session, sub: Subscription, result: unknown): Promise<void> => {
    const { id, jsonrpc, controller } = sub;
    const signal = controller.signal;
    const iterable = isObservable(result)
      ? observableToAsyncIterable(result, signal)
      : (result as AsyncIterable<unknown>);
    const iterator = iterable[Symbol.asyncIterator]();
    let wake: ((value: typeof ABORTED) => void) | undefined;
    const onAbort = (): void => wake?.(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    // Stopped or refused while its procedure set up: it never started, so it is not announced.
    if (!signal.aborted) send(s, { id, jsonrpc, result: { type: 'started' } });
    try {
      while (!signal.aborted) {
        // One fresh promise per event; the abort wakes it without piling reactions on a shared promise.
        const next = await new Promise<IteratorResult<unknown> | typeof ABORTED>(
          (resolve, reject) => {
            wake = resolve;
            iterator.next().then(resolve, reject);
          },
        );
        if (next === ABORTED || next.done) break;
        const value = next.value;
        if (isTrackedEnvelope(value)) {
          const [eventId, data] = value;
          send(s, {
            id,
            jsonrpc,
            result: { type: 'data', id: eventId, data: { id: eventId, data } },
          });
        } else {
          send(s, { id, jsonrpc, result: { type: 'data', data: value } });
        }
        if ((s.socket.bufferedAmount ?? 0) > highWaterMark) {
          if (!(await drain(s, signal))) {
            s.socket.close(CloseCode.TryAgainLater, 'client too slow');
            break;
          }
        } else if (shouldYield()) {
          await macrotask();
        }
      }
    } catch (cause) {
      if (!signal.aborted) sendError(s, id, jsonrpc, cause, 'subscription', sub.path, sub.input);
    } finally {
      signal.removeEventListener('abort', onAbort);
      controller.abort();
      forget(s, sub);
      try {
        await iterator.return?.();
      } catch (cause) {
        reportError(getTRPCErrorFromUnknown(cause), sub.path, 'subscription', s);
      }
    }
    if (!sub.forbidden) send(s, { id, jsonrpc, result: { type: 'stopped' } });
  };

  const handleCall = async (s: Session, raw: unknown, batchIndex: number): Promise<void> => {
    let msg: ReturnType<typeof parseTRPCMessage>;
    try {
      msg = parseTRPCMessage(raw, transformer);
    } catch (cause) {
      sendError(
        s,
        null,
        undefined,
        new TRPCError({ code: 'PARSE_ERROR', message: 'malformed message', cause }),
      );
      return;
    }
    const { id, jsonrpc } = msg;
    if (id === null) {
      sendError(
        s,
        null,
        jsonrpc,
        new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' }),
      );
      return;
    }
    if (msg.method === 'subscription.stop') {
      // Only this connection's own subscriptions can be stopped: ids are looked up per session.
      s.subs.get(id)?.controller.abort();
      return;
    }
    const { path, lastEventId } = msg.params;
    const type = msg.method;
    let input = msg.params.input;
    if (lastEventId !== undefined) {
      input =
        typeof input === 'object' && input !== null
          ? { ...input, lastEventId }
          : (input ?? { lastEventId });
    }
    if (type === 'subscription') {
      if (s.subs.has(id)) {
        sendError(
          s,
          id,
          jsonrpc,
          new TRPCError({ code: 'BAD_REQUEST', message: `duplicate id ${id}` }),
          type,
          path,
        );
        return;
      }
      if (s.subs.size >= maxSubscriptions) {
        sendError(
          s,
          id,
          jsonrpc,
          new TRPCError({ code: 'TOO_MANY_REQUESTS', message: 'too many subscriptions' }),
          type,
          path,
        );
        return;
      }
    }
    const sub: Subscription | undefined =
      type === 'subscription'
        ? {
            id,
            jsonrpc,
            path,
            input,
            controller: new AbortController(),
            procedure: undefined,
            forbidden: false,
          }
        : undefined;
    if (sub) s.subs.set(id, sub);
    try {
      // Once built, the context is used as is: awaiting its settled promise would only cost a
      // microtask turn per call.
      const ctx = s.ctxValue ?? (await context(s));
      // The procedure is resolved before it is checked: behind a lazy() router that has not
      // loaded, the router's table does not hold it yet, and a check that read the table would
      // find no meta.permission and allow. A loaded procedure is found without waiting.
      const found = resolveProcedure(router, path, type);
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
        send(s, { id, jsonrpc, result: { type: 'data', data: result } });
        return;
      }
      if (
        !isObservable(result) &&
        !(typeof result === 'object' && result !== null && Symbol.asyncIterator in result)
      ) {
        throw new TRPCError({
          code: 'INTERNAL_SERVER_ERROR',
          message: `subscription ${path} did not return an async iterable`,
        });
      }
      await runSubscription(s, sub, result);
    } catch (cause) {
      if (sub) forget(s, sub);
      if (sub?.controller.signal.aborted) return;
      sendError(s, id, jsonrpc, cause, type, path, input);
    }
  };

  const reauthorizeSession = async (s: Session): Promise<number> => {
    if (!s.ctxValue || s.subs.size === 0) return 0;
    const ctx = s.ctxValue;
    let stopped = 0;
    for (const sub of [...s.subs.values()]) {
      let ok: boolean;
      try {
        ok = await stillAllowed(ctx, sub);
      } catch {
        ok = false;
      }
      // The wait may have let it end, or be refused by its own first check: answer it once.
      if (ok || !s.open || sub.controller.signal.aborted || s.subs.get(sub.id) !== sub) continue;
      stopped++;
      sub.forbidden = true;
      sub.controller.abort();
      s.subs.delete(sub.id);
      sendError(
        s,
        sub.id,
        sub.jsonrpc,
        new TRPCError({ code: 'FORBIDDEN', message: 'subscription no longer permitted' }),
        'subscription',
        sub.path,
        sub.input,
      );
    }
    return stopped;
  };

  return {
    get size(): number {
      return sessions.size;
    },

    open(socket: TRPCSocket, connection: GuardConnection, request?: Request): TRPCSession {
      let waitingForParams = false;
      if (request) {
        try {
          waitingForParams = new URL(request.url).searchParams.get('connectionParams') === '1';
        } catch {
          waitingForParams = false;
        }
      }
      const s: Session = {
        socket,
        connection,
        subs: new Map(),
        abort: new AbortController(),
        open: true,
        waitingForParams,
        connectionParams: null,
        ctx: undefined,
        ctxValue: undefined,
        get subscriptions(): number {
          return this.subs.size;
        },
      };
      sessions.add(s);
      return s;
    },

    message(session: TRPCSession, value: unknown, bytes?: number): void {
      const s = session as Session;
      if (!s.open) return;
      if (value === 'PING') {
        s.socket.send('PONG');
        return;
      }
      if (value === 'PONG') return;
      if (s.waitingForParams) {
        s.waitingForParams = false;
        try {
          const m = value as { method?: unknown; data?: unknown } | null;
          if (typeof m !== 'object' || m === null || m.method !== 'connectionParams')
            throw new Error('expected connectionParams');
          s.connectionParams = parseConnectionParamsFromUnknown(m.data) as Record<
            string,
            string
          > | null;
        } catch (cause) {
          sendError(
            s,
            null,
            undefined,
            new TRPCError({ code: 'PARSE_ERROR', message: 'malformed connectionParams', cause }),
          );
          s.socket.close(CloseCode.PolicyViolation, 'malformed connectionParams');
        }
        return;
      }
      const calls = Array.isArray(value) ? value : [value];
      if (calls.length > maxBatchSize) {
        refuseParsed(
          s,
          calls,
          value,
          bytes,
          new TRPCError({
            code: 'BAD_REQUEST',
            message: `batch too large (${calls.length} calls; at most ${maxBatchSize})`,
          }),
        );
        return;
      }
      // The guard charged the frame once; a batch of N calls costs N.
      if (calls.length > 1) {
        const refused = guard.consume(s.connection, calls.length - 1);
        if (refused) {
          refuseParsed(
            s,
            calls,
            value,
            bytes,
            new TRPCError({
              code: 'TOO_MANY_REQUESTS',
              message: `rate limit exceeded; retry in ${refused.retryAfterMs} ms`,
            }),
          );
          return;
        }
      }
      for (let i = 0; i < calls.length; i++) {
        handleCall(s, calls[i], i).catch((cause) =>
          reportError(getTRPCErrorFromUnknown(cause), undefined, 'unknown', s),
        );
      }
    },

    refused(
      session: TRPCSession,
      reply: ErrorReply,
      frame: string | ArrayBuffer | ArrayBufferView,
    ): void {
      const s = session as Session;
      if (!s.open) return;
      // A refused keep-alive needs no answer (the client's own timeout handles a missing PONG).
      if (frame === 'PING' || frame === 'PONG') return;
      const { code, message, retryAfterMs } = reply.error;
      const text = refusedText(frame, guard.maxBytes);
      refuseCalls(
        s,
        (visit) => (text === undefined ? undefined : visitCallIds(text, visit)),
        frameBytes(frame, guard.maxBytes),
        new TRPCError({
          code,
          message: retryAfterMs === undefined ? message : `${message}; retry in ${retryAfterMs} ms`,
        }),
      );
    },

    close(session: TRPCSession): void {
      endSession(session as Session);
    },

    async reauthorize(filter?: (connection: GuardConnection) => boolean): Promise<number> {
      let stopped = 0;
      for (const s of [...sessions])
        if (!filter || filter(s.connection)) stopped += await reauthorizeSession(s);
      return stopped;
    },

    broadcastReconnect(): void {
      // A notification, not a response: tRPC's transformTRPCResponse reads `result` and throws
      // on a message without one, so it is sent as is (it carries no data to transform).
      const notification = JSON.stringify({ id: null, method: 'reconnect' });
      for (const s of sessions) {
        if (!s.open) continue;
        try {
          s.socket.send(notification);
        } catch (cause) {
          reportError(getTRPCErrorFromUnknown(cause), undefined, 'unknown', s);
        }
      }
    },
  };
}
