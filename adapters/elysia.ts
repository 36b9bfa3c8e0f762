/**
 * wsguard with Elysia on Bun: the guarded WebSocket as an Elysia route, and the guard's HTTP routes
 * (ticket, stats…) as Elysia handlers.
 *
 * The route hands the handshake to wsguard's Bun adapter (`bunHandler`), not to Elysia's `.ws()`:
 * the guard's checks, the client address through `trustProxy`, back-pressure and the graceful
 * close (1001) are the adapter's. Elysia's `Bun.serve` dispatches every socket event to handlers
 * the upgrade stored on the socket (`ws.data.open`, `.message`…), so the guarded upgrade stores
 * the adapter's handlers there; Elysia's own `.ws()` routes keep working beside it. The frame limit
 * before buffering (`maxPayloadLength` = the guard's `maxBytes`) and the back-pressure limits are
 * options of the whole server: pass {@link ElysiaGuard.websocket} as Elysia's `websocket` config.
 *
 * @example
 * ```ts
 * const ws = guardElysia({ guard, hooks });
 * new Elysia({ websocket: ws.websocket })
 *   .get('/ws', ws.upgrade)
 *   .post('/ws/ticket', ws.ticket())
 *   .listen(8787);
 * ```
 *
 * @module
 */
import { type ClientAddress, createProxyTrust } from '../src/handshake/trusted-proxy.ts';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type TicketHandlerOptions, ticketHandler } from '../src/transport/ticket-route.ts';
import { type BunServerLike, type BunWebSocketHandler, bunHandler } from './bun.ts';

export type { ClientAddress } from '../src/handshake/trusted-proxy.ts';
export type { GuardedSocketOptions } from '../src/transport/serve.ts';
export type { TicketHandlerOptions } from '../src/transport/ticket-route.ts';
export type { BunServerLike, BunWebSocketHandler } from './bun.ts';

/** The parts of an Elysia handler's context the guard reads. */
export interface ElysiaContextLike {
  /** The Web request. */
  readonly request: Request;
  /** The Bun server (`null` before `listen`). */
  readonly server: BunServerLike | null;
}

/** A fetch-style handler, given the client address the guard resolved. */
export type ElysiaFetch = (request: Request, client: ClientAddress) => Response | Promise<Response>;

/** Bun's WebSocket limits for the guarded sockets: Elysia's `websocket` config. */
export type ElysiaWebSocketConfig = Omit<
  BunWebSocketHandler,
  'open' | 'message' | 'close' | 'drain'
>;

/** Options for {@link guardElysia}. */
export interface ElysiaGuardOptions extends GuardedSocketOptions {
  /** The server serves TLS, so every connection is secure (`requireSecure`). @default false */
  readonly secure?: boolean;
}

/** The guard, mounted on an Elysia app. */
export interface ElysiaGuard {
  /** The WebSocket route's handler: `app.get('/ws', ws.upgrade)`. */
  upgrade(context: ElysiaContextLike): Promise<Response | undefined>;
  /** Pass as Elysia's `websocket` config: the frame and back-pressure limits the guard needs. */
  readonly websocket: ElysiaWebSocketConfig;
  /** The ticket endpoint (`ticketHandler`), given the client address the guard resolves. */
  ticket(options?: TicketHandlerOptions): (context: ElysiaContextLike) => Promise<Response>;
  /** A fetch-style handler as an Elysia handler; a throw answers 500 and goes to `onError`. */
  route(fetch: ElysiaFetch): (context: ElysiaContextLike) => Promise<Response>;
  /** The client of a request: its peer, or what a trusted proxy reports. */
  client(context: ElysiaContextLike): ClientAddress;
  /** Refuse new handshakes, close every socket with 1001, release leases (the server is yours). */
  close(timeoutMs?: number): Promise<void>;
}

type Events = Pick<BunWebSocketHandler, 'open' | 'message' | 'close' | 'drain'> & {
  ping?: (ws: unknown, data?: unknown) => void;
  pong?: (ws: unknown, data?: unknown) => void;
};

/** Bun's server, with every upgrade carrying the guard's socket handlers in its `data`. */
function dispatching(server: BunServerLike, events: Events): BunServerLike {
  const handlers = {
    open: (ws: unknown) => events.open(ws),
    message: (ws: unknown, message: unknown) => events.message(ws, message),
    close: (ws: unknown, code: number, reason: string) => events.close(ws, code, reason),
    drain: (ws: unknown) => events.drain(ws),
    ping: (ws: unknown, data?: unknown) => events.ping?.(ws, data),
    pong: (ws: unknown, data?: unknown) => events.pong?.(ws, data),
  };
  return {
    requestIP: (request) => server.requestIP(request),
    upgrade: (request, options?: { data?: object }) =>
      server.upgrade(request, { ...options, data: { ...options?.data, ...handlers } }),
    stop: (closeActive) => server.stop(closeActive),
    port: server.port,
  };
}

/** Guard an Elysia app's WebSockets (Bun). Call `close()` on shutdown before `app.stop()`. */
export function guardElysia(options: ElysiaGuardOptions): ElysiaGuard {
  // The adapter reads only whether `tls` is set (the connection is secure); no certificate here.
  const bun = bunHandler({
    ...options,
    ticketPath: false,
    ...(options.secure ? { tls: { cert: '', key: '' } } : {}),
  });
  const events = bun.websocket as Events;
  const config: ElysiaWebSocketConfig = {
    maxPayloadLength: bun.websocket.maxPayloadLength,
    backpressureLimit: bun.websocket.backpressureLimit,
    closeOnBackpressureLimit: bun.websocket.closeOnBackpressureLimit,
    perMessageDeflate: bun.websocket.perMessageDeflate,
    idleTimeout: bun.websocket.idleTimeout,
  };
  const trust = createProxyTrust(options);
  const secure = options.secure === true;
  const client = ({ request, server }: ElysiaContextLike): ClientAddress =>
    trust.resolve(server?.requestIP(request)?.address ?? '', secure, request.headers);
  const route = (fetch: ElysiaFetch) => async (context: ElysiaContextLike) => {
    try {
      return await fetch(context.request, client(context));
    } catch (error) {
      options.onError?.(error, { stage: 'hook' });
      return new Response('internal error', { status: 500 });
    }
  };
  return {
    async upgrade({ request, server }) {
      if (!server) return new Response('server not listening', { status: 503 });
      return bun.fetch(request, dispatching(server, events));
    },
    websocket: config,
    ticket(ticketOptions) {
      const ticket = ticketHandler(options.guard, ticketOptions);
      return route((request, c) => ticket(request, c.ip));
    },
    route,
    client,
    close: (timeoutMs) => bun.close(timeoutMs),
  };
}
