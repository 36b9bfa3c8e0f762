/**
 * One connection's state in the bridge: its socket, its live subscriptions, its context once
 * built, and whether it is still served. A session is created when the guard accepts the socket
 * and ended once, when the socket closes or the bridge closes it; nothing runs for it after that.
 *
 * @module
 */
import type { GuardConnection } from '../state/connection.ts';
import type { GuardedContext } from './context.ts';
import type { ResolvedProcedure } from './procedure.ts';
import type { TRPCSession, TRPCSocket } from './types.ts';

/** A live subscription of a session, under the id the client gave it. */
export interface Subscription {
  /** The client's id (answers and `subscription.stop` name it). */
  readonly id: string | number;
  /** Echoed back when the call carried it. */
  readonly jsonrpc: '2.0' | undefined;
  /** Procedure path. */
  readonly path: string;
  /** The call's input (with `lastEventId` merged in). */
  readonly input: unknown;
  /** Stops it: the client's stop, a re-authorization, or the session's end. */
  readonly controller: AbortController;
  /** Once resolved (a lazy router may still be loading): what re-authorization checks. */
  procedure: ResolvedProcedure | undefined;
  /** Stopped by a re-authorization, which already answered it (so no `stopped` follows). */
  forbidden: boolean;
}

/** A served connection, as the bridge's pieces see it. */
export interface Session extends TRPCSession {
  /** The socket replies go to. */
  readonly socket: TRPCSocket;
  /** Live subscriptions by id. */
  readonly subs: Map<string | number, Subscription>;
  /** Aborted when the session ends: the signal of its queries and mutations. */
  readonly abort: AbortController;
  /** False once ended: nothing is sent or started after that. */
  open: boolean;
  /** The client said (in the URL) that its first message is `connectionParams`. */
  waitingForParams: boolean;
  /** What `connectionParams` carried, for `createContext`. */
  connectionParams: Record<string, string> | null;
  /** The context, built once, on the first call. */
  ctx: Promise<GuardedContext> | undefined;
  /** The context once built (used as is: awaiting the settled promise would cost a turn). */
  ctxValue: GuardedContext | undefined;
}

/** What a session sets only once it is used: kept out of an idle session (see below). */
interface SessionUse {
  connectionParams: Record<string, string> | null;
  ctx: Promise<GuardedContext> | undefined;
  ctxValue: GuardedContext | undefined;
  subs: Map<string | number, Subscription> | undefined;
  abort: AbortController | undefined;
}

const OPEN = 1;
const WAITING_FOR_PARAMS = 2;

/**
 * A session in four fields, for it lives as long as the socket: its two flags are bits of one
 * small integer, and what only a used session sets (the context, `connectionParams`, the
 * subscription map, the abort controller) lives in one object made on first use: an idle session
 * needs none of it (an `AbortController` and its signal alone are ~0.5 KiB; nine fields were
 * 96 B, four are 56). Accessors on the class, not the object, so no function is made per session.
 */
class SessionState implements Session {
  bits: number;
  use: SessionUse | undefined = undefined;

  constructor(
    readonly socket: TRPCSocket,
    readonly connection: GuardConnection,
    waitingForParams: boolean,
  ) {
    this.bits = waitingForParams ? OPEN | WAITING_FOR_PARAMS : OPEN;
  }

  get open(): boolean {
    return (this.bits & OPEN) !== 0;
  }
  set open(on: boolean) {
    this.bits = on ? this.bits | OPEN : this.bits & ~OPEN;
  }
  get waitingForParams(): boolean {
    return (this.bits & WAITING_FOR_PARAMS) !== 0;
  }
  set waitingForParams(on: boolean) {
    this.bits = on ? this.bits | WAITING_FOR_PARAMS : this.bits & ~WAITING_FOR_PARAMS;
  }

  get connectionParams(): Record<string, string> | null {
    return this.use?.connectionParams ?? null;
  }
  set connectionParams(params: Record<string, string> | null) {
    if (params !== null || this.use) useOf(this).connectionParams = params;
  }
  get ctx(): Promise<GuardedContext> | undefined {
    return this.use?.ctx;
  }
  set ctx(ctx: Promise<GuardedContext> | undefined) {
    if (ctx !== undefined || this.use) useOf(this).ctx = ctx;
  }
  get ctxValue(): GuardedContext | undefined {
    return this.use?.ctxValue;
  }
  set ctxValue(ctx: GuardedContext | undefined) {
    if (ctx !== undefined || this.use) useOf(this).ctxValue = ctx;
  }

  /** The subscription map, if made. */
  get madeSubs(): Map<string | number, Subscription> | undefined {
    return this.use?.subs;
  }
  /** The abort controller, if made. */
  get madeAbort(): AbortController | undefined {
    return this.use?.abort;
  }

  get subs(): Map<string | number, Subscription> {
    const use = useOf(this);
    use.subs ??= new Map();
    return use.subs;
  }

  get abort(): AbortController {
    const use = useOf(this);
    use.abort ??= new AbortController();
    return use.abort;
  }

  get subscriptions(): number {
    return this.use?.subs?.size ?? 0;
  }
}

/** A session's {@link SessionUse}, made on first use. */
function useOf(s: SessionState): SessionUse {
  s.use ??= {
    connectionParams: null,
    ctx: undefined,
    ctxValue: undefined,
    subs: undefined,
    abort: undefined,
  };
  return s.use;
}

/**
 * Start a session for a socket the guard accepted, and count it in `sessions`. A client that
 * sends `connectionParams` says so with `?connectionParams=1` in its URL (tRPC's protocol).
 */
export function openSession(
  sessions: Set<Session>,
  socket: TRPCSocket,
  connection: GuardConnection,
  request?: Request,
): Session {
  let waitingForParams = false;
  if (request) {
    try {
      waitingForParams = new URL(request.url).searchParams.get('connectionParams') === '1';
    } catch {
      waitingForParams = false;
    }
  }
  const s = new SessionState(socket, connection, waitingForParams);
  sessions.add(s);
  return s;
}

/** Stop everything a session runs (the socket closed, or the bridge is closing it). */
export function endSession(sessions: Set<Session>, s: Session): void {
  if (!s.open) return;
  s.open = false;
  sessions.delete(s);
  // Only what was made: ending a session that never subscribed or called makes nothing.
  if (s.subscriptions > 0) {
    for (const sub of s.subs.values()) sub.controller.abort();
    s.subs.clear();
  }
  if (!(s instanceof SessionState) || s.madeAbort) s.abort.abort();
}

/** Remove a subscription from its session, unless its id already names a newer one. */
export function forget(s: Session, sub: Subscription): void {
  if (s.subs.get(sub.id) === sub) s.subs.delete(sub.id);
}
