/**
 * wsguard as a Fastify 5 plugin: the guarded WebSocket on `fastify.server`, and the guard's HTTP
 * routes (ticket, and any fetch-style handler: stats, metrics, health) as Fastify routes.
 *
 * Not `@fastify/websocket`: the guard decides the handshake before `ws` completes it (origin,
 * credential, rate limits, caps, bans) and sets `maxPayload` from its own `maxBytes`, which is
 * `upgradeHandler` of `wsguard/adapters/node` on the server's `upgrade` event; Fastify's routing
 * never sees a handshake. On `fastify.close()`, the plugin's `preClose` hook refuses new
 * handshakes and closes every socket with 1001 (leases released) before the server stops.
 *
 * The plugin's routes take their body unparsed (a content-type parser that reads nothing), so the
 * guard's handlers bound it themselves (the ticket endpoint reads at most 1 KiB), and the client
 * address comes from the guard's `trustProxy`, not Fastify's `trustProxy`.
 *
 * @example
 * ```ts
 * const app = Fastify({ http: nodeServerOptions() });
 * await app.register(wsguardFastify, { guard, hooks, ticketPath: '/ws/ticket' });
 * await app.listen({ port: 8787 });
 * ```
 *
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type TicketHandlerOptions, ticketHandler } from '../src/transport/ticket-route.ts';
import { upgradeHandler } from './node.ts';
import { type FetchHandler, type NodeFetchOptions, nodeFetchCaller } from './node-http.ts';

export { type FetchHandler, nodeServerOptions } from './node-http.ts';

/** Options of {@link wsguardFastify}. */
export interface FastifyGuardOptions extends GuardedSocketOptions {
  /**
   * Where the ticket endpoint is served (all methods: it answers 405 itself); `false` for none.
   * @default '/ws/ticket'
   */
  readonly ticketPath?: string | false;
  /** Options of the ticket endpoint. */
  readonly ticket?: TicketHandlerOptions;
  /** More routes, path → fetch-style handler (`statsHandler(guard)`, `metricsHandler(…)`). */
  readonly routes?: Readonly<Record<string, FetchHandler>>;
  /**
   * How long `fastify.close()` waits for sockets to finish their close handshake.
   * @default 5000
   */
  readonly shutdownTimeoutMs?: number;
}

/** A Fastify route handler serving a fetch-style handler (the reply is the `Response`). */
export function fastifyRoute(
  fetch: FetchHandler,
  options: NodeFetchOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  const call = nodeFetchCaller(fetch, options);
  return async (request, reply) => reply.send(await call(request.raw, reply.raw, request.body));
}

/** Register the plugin's own routes, in a child context whose bodies stay unread. */
async function registerRoutes(
  fastify: FastifyInstance,
  options: FastifyGuardOptions,
): Promise<void> {
  await fastify.register(async (routes) => {
    routes.removeAllContentTypeParsers();
    // Leave the body in the stream: the handler reads it within its own bound.
    routes.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const ticketPath = options.ticketPath ?? '/ws/ticket';
    if (ticketPath !== false) {
      const ticket = ticketHandler(options.guard, options.ticket);
      routes.all(
        ticketPath,
        fastifyRoute((request, client) => ticket(request, client.ip), options),
      );
    }
    for (const [path, fetch] of Object.entries(options.routes ?? {}))
      routes.all(path, fastifyRoute(fetch, options));
  });
}

/**
 * The plugin: `app.register(wsguardFastify, { guard, hooks, ... })`. It applies to the whole
 * server (not only its own encapsulation context): there is one `upgrade` event per server.
 * Typed for the default server; it registers on an `https` instance the same way.
 */
export const wsguardFastify: FastifyPluginAsync<FastifyGuardOptions> = async (fastify, options) => {
  const upgrade = upgradeHandler(options);
  fastify.server.on('upgrade', upgrade);
  fastify.addHook('preClose', async () => {
    await upgrade.close(options.shutdownTimeoutMs);
  });
  fastify.addHook('onClose', async () => {
    fastify.server.off('upgrade', upgrade);
  });
  await registerRoutes(fastify, options);
};

// What fastify-plugin sets: the hooks above belong to the parent instance, not a child context.
Object.defineProperty(wsguardFastify, Symbol.for('skip-override'), { value: true });
Object.defineProperty(wsguardFastify, Symbol.for('fastify.display-name'), { value: 'wsguard' });
