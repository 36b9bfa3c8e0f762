/**
 * wsguard with Hono, on Node (`@hono/node-server`), Bun (`Bun.serve`) and Deno (`Deno.serve`): the
 * guarded WebSocket as a Hono middleware, and the guard's HTTP routes (ticket, stats…) as Hono
 * handlers.
 *
 * The handshake is not Hono's `upgradeWebSocket`: the middleware hands the raw request to the
 * wsguard adapter of the runtime (`bunHandler`, `denoHandler`; on Node the `upgrade` listener of
 * `upgradeHandler`, since Node never passes an upgrade request to Hono), so the frame size limit
 * before buffering (Bun's `maxPayloadLength`, `ws`'s `maxPayload`), the client address through
 * `trustProxy`, back-pressure and the graceful close (1001) are the adapter's, unchanged.
 *
 * @example
 * ```ts
 * const ws = guardHono({ guard, hooks });
 * const app = new Hono();
 * app.get('/ws', ws.upgrade);
 * app.post('/ws/ticket', ws.ticket());
 * Bun.serve({ fetch: app.fetch, websocket: ws.websocket }); // Bun
 * Deno.serve(app.fetch);                                      // Deno
 * ws.attach(serve({ fetch: app.fetch }));                     // Node, @hono/node-server
 * ```
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import { isWebSocketRequest } from '../src/handshake/request-shape.ts';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type BunServerLike, type BunWebSocketHandler, bunHandler } from './bun.ts';
import { type DenoServeInfo, denoHandler } from './deno.ts';
import { type HonoRoutes, honoRoutes } from './hono-routes.ts';
import { type NodeUpgradeHandler, upgradeHandler } from './node.ts';

export type { ClientAddress, ProxyTrustOptions } from '../src/handshake/trusted-proxy.ts';
export type { GuardedSocketOptions } from '../src/transport/serve.ts';
export type { TicketHandlerOptions } from '../src/transport/ticket-route.ts';
export type { BunWebSocketHandler } from './bun.ts';
export {
  type HonoFetch,
  type HonoRoutes,
  type HonoRoutesOptions,
  honoRoutes,
} from './hono-routes.ts';
export type { NodeUpgradeHandler } from './node.ts';

/** A runtime Hono runs on. */
export type HonoRuntime = 'node' | 'bun' | 'deno';

/** Options for {@link guardHono}. */
export interface HonoGuardOptions extends GuardedSocketOptions {
  /** The runtime serving the app. @default the one this code runs on */
  readonly runtime?: HonoRuntime;
  /**
   * Bun, Deno: the server serves TLS, so every connection is secure (`requireSecure`). On Node
   * the socket itself tells.
   * @default false
   */
  readonly secure?: boolean;
}

/** The part of a Node server `attach` needs (`http.Server`, `https.Server`). */
export interface UpgradeEmitter {
  /** `server.on('upgrade', listener)`. */
  on(event: 'upgrade', listener: NodeUpgradeHandler): unknown;
}

/** The guard, mounted on a Hono app: the WebSocket middleware, and the routes. */
export interface HonoGuard extends HonoRoutes {
  /**
   * Middleware for the WebSocket route (`app.get('/ws', ws.upgrade)`): a handshake goes to the
   * guard, anything else to the next handler. On Node the handshake never reaches Hono: `attach`.
   */
  readonly upgrade: MiddlewareHandler;
  /** Bun: the `websocket` option of `Bun.serve`. Throws on another runtime. */
  readonly websocket: BunWebSocketHandler;
  /** Node: put the guarded handshake on the server `@hono/node-server`'s `serve` returned. */
  attach(server: UpgradeEmitter): void;
  /** Refuse new handshakes, close every socket with 1001, release leases (the server is yours). */
  close(timeoutMs?: number): Promise<void>;
}

const detectRuntime = (): HonoRuntime =>
  'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

/** The runtime adapter's handshake, as one function of a Hono context; `undefined` on Node. */
interface Side {
  readonly handshake?: (c: Context) => Promise<Response>;
  readonly websocket?: BunWebSocketHandler;
  readonly node?: NodeUpgradeHandler;
  close(timeoutMs?: number): Promise<void>;
}

/** Bun's server from `c.env`: the server itself, or `{ server }` (as Hono's `getBunServer` reads). */
const bunServerOf = (env: unknown): BunServerLike =>
  (typeof env === 'object' && env !== null && 'server' in env
    ? (env as { server: unknown }).server
    : env) as BunServerLike;

function sideFor(runtime: HonoRuntime, options: HonoGuardOptions): Side {
  // The adapters read only whether `tls` is set (the connection is secure); no certificate here.
  const socketOptions = {
    ...options,
    ticketPath: false as const,
    ...(options.secure ? { tls: { cert: '', key: '' } } : {}),
  };
  if (runtime === 'bun') {
    const bun = bunHandler(socketOptions);
    return {
      // After `server.upgrade`, Bun ignores the response; Hono wants one (as its own helper does).
      handshake: async (c) =>
        (await bun.fetch(c.req.raw, bunServerOf(c.env))) ?? new Response(null),
      websocket: bun.websocket,
      close: (timeoutMs) => bun.close(timeoutMs),
    };
  }
  if (runtime === 'deno') {
    const deno = denoHandler(socketOptions);
    return {
      handshake: (c) => deno(c.req.raw, (c.env ?? {}) as DenoServeInfo),
      close: (timeoutMs) => deno.close(timeoutMs),
    };
  }
  const node = upgradeHandler(options);
  return { node, close: (timeoutMs) => node.close(timeoutMs) };
}

/**
 * Guard a Hono app's WebSockets on `runtime`. Call `close()` on shutdown before stopping the
 * server (upgraded sockets are not the server's requests, so stopping alone waits for them).
 */
export function guardHono(options: HonoGuardOptions): HonoGuard {
  const runtime = options.runtime ?? detectRuntime();
  const side = sideFor(runtime, options);
  const routes = honoRoutes(options);
  const attached = new Set<UpgradeEmitter>();
  return {
    upgrade: async (c, next) => {
      if (!side.handshake || !isWebSocketRequest(c.req.raw)) return next();
      return side.handshake(c);
    },
    get websocket(): BunWebSocketHandler {
      if (!side.websocket)
        throw new TypeError(`wsguard/hono: websocket is Bun's (runtime: ${runtime})`);
      return side.websocket;
    },
    attach(server) {
      if (!side.node) throw new TypeError(`wsguard/hono: attach is for Node (runtime: ${runtime})`);
      if (attached.has(server)) return;
      attached.add(server);
      server.on('upgrade', side.node);
    },
    ...routes,
    close: (timeoutMs) => side.close(timeoutMs),
  };
}
