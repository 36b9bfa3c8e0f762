/**
 * wsguard with Express 5 on Node: the guarded WebSocket on the same `http.Server` Express serves,
 * and the guard's HTTP routes (ticket, stats, metrics, health) as Express handlers.
 *
 * Express never sees a WebSocket handshake: Node hands an `Upgrade` request to the server's
 * `upgrade` listeners, which is where {@link ExpressGuard.attach} puts the guard (the same handler
 * as `upgradeHandler` in `wsguard/adapters/node`). The client address of the routes comes from the
 * guard's `trustProxy`, not from Express's `trust proxy` setting, so a ticket is bound to the same
 * address the handshake will be checked against.
 *
 * @example
 * ```ts
 * const app = express();
 * const ws = guardExpress({ guard, hooks });
 * app.post('/ws/ticket', ws.ticket());
 * const server = http.createServer(nodeServerOptions(), app);
 * ws.attach(server);
 * server.listen(8787);
 * ```
 *
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { RequestHandler } from 'express';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type TicketHandlerOptions, ticketHandler } from '../src/transport/ticket-route.ts';
import { upgradeHandler } from './node.ts';
import { type FetchHandler, nodeFetchHandler } from './node-http.ts';

export { type FetchHandler, nodeServerOptions } from './node-http.ts';

/** The guard, mounted on an Express app and the server it listens on. */
export interface ExpressGuard {
  /** Put the guarded handshake on the server Express listens on (`server.on('upgrade')`). */
  attach(server: HttpServer | HttpsServer): void;
  /**
   * A fetch-style handler (`statsHandler(guard)`, `metricsHandler(…)`, your own) as an Express
   * handler; a throw answers 500 and goes to `onError`.
   */
  route(fetch: FetchHandler): RequestHandler;
  /** The ticket endpoint (`ticketHandler`), given the client address the guard resolves. */
  ticket(options?: TicketHandlerOptions): RequestHandler;
  /** Refuse new handshakes, close every socket with 1001, release leases (the server is yours). */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Guard an Express app's WebSockets. Call `attach(server)` once the server exists, and
 * `close()` before `server.close()` on shutdown (upgraded sockets are no longer the server's, so
 * `server.close()` alone would wait for them forever).
 */
export function guardExpress(options: GuardedSocketOptions): ExpressGuard {
  const upgrade = upgradeHandler(options);
  const attached = new Set<HttpServer | HttpsServer>();
  const route = (fetch: FetchHandler): RequestHandler => {
    const handle = nodeFetchHandler(fetch, options);
    return (req, res) => handle(req, res);
  };
  return {
    attach(server) {
      if (attached.has(server)) return;
      attached.add(server);
      server.on('upgrade', upgrade);
    },
    route,
    ticket(ticketOptions) {
      const ticket = ticketHandler(options.guard, ticketOptions);
      return route((request, client) => ticket(request, client.ip));
    },
    close: (timeoutMs) => upgrade.close(timeoutMs),
  };
}
