/**
 * The guard's HTTP side as Hono handlers: the ticket endpoint and any fetch-style handler
 * (`statsHandler(guard)`, your own), given the client address the guard resolves from `c.env`
 * (`hono-client.ts`). Usable without the WebSocket middleware, for an app that wsguard's own
 * `serve({ fetch: app.fetch })` runs (then `c.env` is the client `serve` already resolved).
 *
 * @module
 */
import type { Context, Handler } from 'hono';
import type { Guard } from '../src/guard/types.ts';
import {
  type ClientAddress,
  createProxyTrust,
  type ProxyTrustOptions,
} from '../src/handshake/trusted-proxy.ts';
import type { ErrorStage } from '../src/observability/report.ts';
import { type TicketHandlerOptions, ticketHandler } from '../src/transport/ticket-route.ts';
import { honoClient } from './hono-client.ts';

/** A fetch-style handler, given the client address the guard resolved. */
export type HonoFetch = (request: Request, client: ClientAddress) => Response | Promise<Response>;

/** Options for {@link honoRoutes}. */
export interface HonoRoutesOptions extends ProxyTrustOptions {
  /** The guard whose tickets the ticket route issues. */
  readonly guard: Guard;
  /** A throw or rejection of a route: reported here, answered with a bare 500. */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
}

/** The guard's routes for a Hono app. */
export interface HonoRoutes {
  /** The ticket endpoint (`ticketHandler`), given the client address the guard resolves. */
  ticket(options?: TicketHandlerOptions): Handler;
  /** A fetch-style handler as a Hono handler; a throw answers 500 and goes to `onError`. */
  route(fetch: HonoFetch): Handler;
  /** The client of a request: its peer, or what a trusted proxy reports. */
  client(c: Context): ClientAddress;
}

/**
 * The guard's routes for a Hono app.
 *
 * @example
 * ```ts
 * const routes = honoRoutes({ guard, trustProxy: ['10.0.0.0/8'] });
 * app.post('/ws/ticket', routes.ticket());
 * app.get('/admin/stats', routes.route(statsHandler(guard, { token })));
 * ```
 */
export function honoRoutes(options: HonoRoutesOptions): HonoRoutes {
  const trust = createProxyTrust(options);
  const report = (error: unknown): void => {
    try {
      if (options.onError) options.onError(error, { stage: 'hook' });
      else console.error('[wsguard] hono route:', error);
    } catch {
      // A throwing error handler must not take the server down.
    }
  };
  const client = (c: Context): ClientAddress => honoClient(c, trust);
  const route = (fetch: HonoFetch): Handler => {
    return async (c) => {
      try {
        return await fetch(c.req.raw, client(c));
      } catch (error) {
        report(error);
        return new Response('internal error', { status: 500 });
      }
    };
  };
  return {
    ticket(ticketOptions) {
      const ticket = ticketHandler(options.guard, ticketOptions);
      return route((request, c) => ticket(request, c.ip));
    },
    route,
    client,
  };
}
