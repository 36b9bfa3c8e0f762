/**
 * The upgrade hook, where every handshake goes through `guard.upgrade`, then the app's `upgrade`.
 * An accepted handshake is noted on its request until its socket opens, with the open timeout
 * running; a handshake the runtime refuses after that is given back ({@link abandon}).
 *
 * @module
 */
import type { Hooks, PeerContext } from 'crossws';
import type { Accept, ClientInfo, Reject } from '../guard/types.ts';
import { checkHandshake } from '../handshake/request-shape.ts';
import { forgetRequestUrl, requestUrl } from '../handshake/request-url.ts';
import type { HooksContext } from './context.ts';
import { createPeerState, type PeerState } from './peer-state.ts';
import { release } from './release.ts';
import {
  acceptedContext,
  rejectedContext,
  setPending,
  storedClient,
  takePending,
} from './slots.ts';
import { armOpenTimer } from './timers.ts';

/** What the upgrade hook answers with to accept: crossws's upgrade result. */
type Upgraded = { headers?: HeadersInit; protocol?: string; context: PeerContext };

/** Already settled: `abandon` does its work synchronously, so it needs no async function. */
const DONE: Promise<void> = Promise.resolve();

const text = (status: number, body: string, retryAfter?: number): Response => {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(new TextEncoder().encode(body).byteLength),
    'cache-control': 'no-store',
    connection: 'close',
  };
  if (retryAfter !== undefined && retryAfter > 0) headers['retry-after'] = String(retryAfter);
  return new Response(body, { status, headers });
};

/** The client of a handshake: the `clientInfo` option, an adapter's, else srvx's `request.ip`. */
const clientOf = (ctx: HooksContext, request: Request): ClientInfo | undefined => {
  const custom = ctx.clientInfo?.(request);
  if (custom) return custom;
  const stored = storedClient(request);
  if (stored) return stored;
  // srvx (and h3 on it) resolve the socket address as `request.ip`.
  const ip = (request as { ip?: unknown }).ip;
  return typeof ip === 'string' && ip !== '' ? { ip, secure: false } : undefined;
};

const rejected = (d: Reject): Response | { protocol?: string; context: PeerContext } => {
  if (d.mode === 'http') return text(d.status, d.message, d.retryAfter);
  // Accept, then close at once: a browser cannot read a handshake's status, only a close code.
  return {
    ...(d.protocol ? { protocol: d.protocol } : {}),
    context: rejectedContext(d.closeCode, d.message),
  };
};

/**
 * After the guard accepted: the client may be gone, and the app may refuse or add headers. Not
 * async: without an app `upgrade` hook (the usual case) the answer is ready at once, and the hook
 * needs no promise and no await more for it.
 */
function admit(
  ctx: HooksContext,
  request: Request,
  client: ClientInfo,
  d: Accept,
): Response | Upgraded | Promise<Response | Upgraded> {
  const s = createPeerState(d.connection);
  try {
    // The client may have gone while the guard was deciding: give back what it took.
    if (ctx.stopped || client.alive?.() === false) {
      release(ctx, s, ctx.stopped ? 'guard' : 'client');
      return text(503, 'client gone');
    }
    if (ctx.app.upgrade) return appUpgrade(ctx, request, s, d);
    return upgraded(ctx, request, s, d, undefined);
  } catch (error) {
    return failedAdmit(ctx, s, error);
  }
}

/** The app's `upgrade` hook decides next: it may refuse (a `Response`) or add headers. */
async function appUpgrade(
  ctx: HooksContext,
  request: Request,
  s: PeerState,
  d: Accept,
): Promise<Response | Upgraded> {
  try {
    const r = await ctx.app.upgrade!(request, d.connection);
    if (r instanceof Response) {
      release(ctx, s, 'app');
      return r;
    }
    return upgraded(ctx, request, s, d, r?.headers);
  } catch (error) {
    return failedAdmit(ctx, s, error);
  }
}

/** Accepted: noted on the request until the socket opens, with the open timeout running. */
function upgraded(
  ctx: HooksContext,
  request: Request,
  s: PeerState,
  d: Accept,
  headers: HeadersInit | undefined,
): Upgraded {
  setPending(request, s);
  armOpenTimer(ctx, s);
  const result: Upgraded = { context: acceptedContext(d.connection, s) };
  if (headers) result.headers = headers;
  if (d.protocol) result.protocol = d.protocol;
  return result;
}

/** A failure after the guard accepted: reported, given back, answered 500. */
function failedAdmit(ctx: HooksContext, s: PeerState, error: unknown): Response {
  ctx.report.upgrade(error);
  release(ctx, s, 'guard');
  return text(500, 'internal error');
}

/** The upgrade hook of one set of hooks. Never rejects: a failure answers 500. */
export function upgradeHook(ctx: HooksContext): Hooks['upgrade'] {
  return async (request) => {
    try {
      if (ctx.stopped) return text(503, 'server shutting down', 5);
      if (ctx.path !== undefined && requestUrl(request)?.pathname !== ctx.path)
        return text(404, 'not found');
      const bad = checkHandshake(request);
      if (bad) return bad;
      const client = clientOf(ctx, request);
      if (!client) {
        ctx.report.upgrade(
          new Error('wsguard: no client address for this handshake; use a wsguard adapter'),
        );
        return text(500, 'internal error');
      }
      const d = await ctx.guard.upgrade({ request, ip: client.ip, secure: client.secure });
      if (!d.ok) return rejected(d);
      const admitted = admit(ctx, request, client, d);
      return admitted instanceof Promise ? await admitted : admitted;
    } catch (error) {
      ctx.report.upgrade(error);
      return text(500, 'internal error');
    } finally {
      forgetRequestUrl(request);
    }
  };
}

/**
 * Release a handshake the runtime refused after the upgrade hook accepted it (the socket never
 * opened: it died meanwhile); a no-op once it opened.
 */
export function abandon(ctx: HooksContext, request: Request): Promise<void> {
  const s = takePending(request);
  if (s && !s.opened) release(ctx, s, 'client');
  return DONE;
}
