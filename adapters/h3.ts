/**
 * wsguard with h3 v2 on Node (h3's `serve`, that is srvx): the guarded WebSocket as an h3 route
 * (`ws.handler`, made with h3's own `defineWebSocketHandler`) served by a srvx plugin, and the
 * guard's HTTP routes (ticket, stats…) as h3 handlers.
 *
 * h3's own WebSocket serving (crossws's server plugin) builds its own crossws adapter: it would not
 * set `ws`'s `maxPayload` to the guard's `maxBytes`, resolve the client through the guard's
 * `trustProxy`, release what a refused handshake took, nor attribute `ws`'s own refusals. So
 * `ws.plugin` listens on the server's `upgrade` event itself: it runs each handshake through the
 * app (its middleware and router decide, as with crossws), and hands the ones routed to
 * `ws.handler` to wsguard's Node `upgradeHandler` (`h3-upgrade.ts`); every other handshake gets
 * the app's answer and is never upgraded.
 *
 * @example
 * ```ts
 * const ws = guardH3({ guard, hooks });
 * const app = new H3().get('/ws', ws.handler).post('/ws/ticket', ws.ticket());
 * const server = serve(app, { port: 8787, plugins: [ws.plugin], gracefulShutdown: false });
 * ```
 *
 * @module
 */
import type { Hooks } from 'crossws';
import { defineWebSocketHandler, type EventHandler, type H3Event } from 'h3';
import type { ServerPlugin, Server as SrvxServer } from 'srvx';
import {
  type ClientAddress,
  createProxyTrust,
  UNKNOWN_CLIENT,
} from '../src/handshake/trusted-proxy.ts';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type TicketHandlerOptions, ticketHandler } from '../src/transport/ticket-route.ts';
import { routedUpgrade } from './h3-upgrade.ts';
import { type NodeUpgradeHandler, upgradeHandler } from './node.ts';

export type { ClientAddress } from '../src/handshake/trusted-proxy.ts';
export type { GuardedSocketOptions } from '../src/transport/serve.ts';
export type { TicketHandlerOptions } from '../src/transport/ticket-route.ts';
export type { NodeUpgradeHandler } from './node.ts';

/** A fetch-style handler, given the client address the guard resolved. */
export type H3Fetch = (request: Request, client: ClientAddress) => Response | Promise<Response>;

/** The guard, mounted on an h3 app and the srvx server it runs on. */
export interface H3Guard {
  /**
   * The WebSocket route: `app.get('/ws', ws.handler)`. A handshake the app routes here is the
   * guard's; a plain request gets 426 (as from `defineWebSocketHandler`).
   */
  readonly handler: EventHandler;
  /**
   * `serve(app, { plugins: [ws.plugin] })`: on the server's `upgrade` event, each handshake goes
   * through the app (middleware, router); the guard takes those routed to `handler`, and every
   * other one gets the app's answer (404 when it had none), never an upgrade.
   */
  readonly plugin: ServerPlugin;
  /** The guard's own `upgrade` listener, bypassing the app: every handshake is the guard's. */
  readonly upgrade: NodeUpgradeHandler;
  /** The ticket endpoint (`ticketHandler`), given the client address the guard resolves. */
  ticket(options?: TicketHandlerOptions): EventHandler;
  /** A fetch-style handler as an h3 handler; a throw answers 500 and goes to `onError`. */
  route(fetch: H3Fetch): EventHandler;
  /** The client of a request: its socket peer, or what a trusted proxy reports. */
  client(event: H3Event): ClientAddress;
  /** Refuse new handshakes, close every socket with 1001, release leases (the server is yours). */
  close(timeoutMs?: number): Promise<void>;
}

/** The Node socket under a srvx request (srvx's own `ip` follows srvx's trust, not the guard's). */
interface NodeRuntime {
  readonly runtime?: {
    readonly node?: { readonly req?: { socket?: { remoteAddress?: string; encrypted?: boolean } } };
  };
}

/**
 * Guard an h3 app's WebSockets on Node. Pass `gracefulShutdown: false` to `serve` and call
 * `close()` before `server.close()`: srvx's own SIGTERM handler closes the server without the
 * sockets, which then wait for their clients.
 */
export function guardH3(options: GuardedSocketOptions): H3Guard {
  const upgrade = upgradeHandler(options);
  const trust = createProxyTrust(options);
  const client = (event: H3Event): ClientAddress => {
    const socket = (event.req as NodeRuntime).runtime?.node?.req?.socket;
    return trust.resolve(
      socket?.remoteAddress ?? UNKNOWN_CLIENT,
      socket?.encrypted === true,
      event.req.headers,
    );
  };
  const route =
    (fetch: H3Fetch): EventHandler =>
    async (event) => {
      try {
        return await fetch(event.req, client(event));
      } catch (error) {
        options.onError?.(error, { stage: 'hook' });
        return new Response('internal error', { status: 500 });
      }
    };
  // The app's route to the guard: its hooks are only a mark, the guard's adapter serves the socket.
  const marker: Partial<Hooks> = {};
  const plugin: ServerPlugin = (server: SrvxServer) => {
    // srvx sets `fetch` (the app behind srvx's middleware) after the plugins ran.
    const listener = routedUpgrade(() => server.fetch, marker, upgrade, options.onError);
    // The Node server exists only once the constructor ran the plugins; attach before it listens.
    const serve = server.serve.bind(server);
    let attached = false;
    server.serve = () => {
      if (attached) return serve();
      attached = true;
      const node = server.node?.server as
        | { on(event: 'upgrade', listener: ReturnType<typeof routedUpgrade>): unknown }
        | undefined;
      if (!node) throw new TypeError('wsguard/h3: the plugin needs srvx on Node');
      node.on('upgrade', listener);
      return serve();
    };
  };
  return {
    handler: defineWebSocketHandler(marker),
    plugin,
    upgrade,
    ticket(ticketOptions) {
      const ticket = ticketHandler(options.guard, ticketOptions);
      return route((request, c) => ticket(request, c.ip));
    },
    route,
    client,
    close: (timeoutMs) => upgrade.close(timeoutMs),
  };
}
