/**
 * The Node HTTP side that the framework integrations on Node (Express, Fastify, an existing `ws`
 * server) share: the server timeouts (the same as `serve()` of `adapters/node.ts` sets) that make the guard's header deadline
 * real, and a fetch-style handler (`Request → Response`) served on Node's `(req, res)`, with the
 * client address resolved by the guard's `trustProxy` (not by the framework's own setting).
 *
 * @module
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import {
  type ClientAddress,
  createProxyTrust,
  type ProxyTrustOptions,
} from '../src/handshake/trusted-proxy.ts';
import type { ErrorStage } from '../src/observability/report.ts';
import { DEFAULT_HEADERS_TIMEOUT_MS } from '../src/transport/serve.ts';

/** A fetch-style handler, given the client address the guard resolved. */
export type FetchHandler = (
  request: Request,
  client: ClientAddress,
) => Response | Promise<Response>;

/**
 * Options for `http.createServer` / `https.createServer` that enforce a header deadline of
 * `headersTimeoutMs` (Slowloris): Node checks it every `connectionsCheckingInterval` (30 s by
 * default, so its own 60 s deadline closed a partial head after 60–90 s); here a quarter of it.
 * `0` keeps Node's checks off. The interval is fixed when the server is created, so these must
 * be passed then: `http.createServer(nodeServerOptions(), app)`.
 */
export function nodeServerOptions(
  headersTimeoutMs: number = DEFAULT_HEADERS_TIMEOUT_MS,
): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  const ms = headersTimeoutMs;
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms))
    throw new TypeError(
      `wsguard: headersTimeoutMs must be a whole number of milliseconds >= 0 (got ${ms})`,
    );
  return {
    headersTimeout: ms,
    // It must not be below headersTimeout; Node's default otherwise.
    requestTimeout: Math.max(300_000, ms),
    connectionsCheckingInterval:
      ms > 0 ? Math.min(30_000, Math.max(250, Math.floor(ms / 4))) : 30_000,
  };
}

/** Options for {@link nodeFetchHandler}. */
export interface NodeFetchOptions extends ProxyTrustOptions {
  /** A throw or rejection of the handler: reported here, answered with a bare 500. */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
}

/**
 * A body a framework already read (Express's `express.json()`, Fastify's parsers) is gone from
 * the stream: give the handler the bytes it was parsed from when the framework kept them
 * (`rawBody`), else the parsed value re-encoded, rather than a body that errors when read.
 */
function keepParsedBody(req: IncomingMessage & { rawBody?: unknown }, parsed: unknown): void {
  if (!req.readableEnded || req.rawBody !== undefined || parsed === undefined) return;
  const bytes = Buffer.isBuffer(parsed)
    ? parsed
    : typeof parsed === 'string'
      ? Buffer.from(parsed)
      : Buffer.from(JSON.stringify(parsed) ?? '');
  Object.defineProperty(req, 'rawBody', { value: bytes, configurable: true });
}

/**
 * Options for {@link nodeFetchHandler} and {@link nodeFetchCaller}: the guard's proxy trust
 * (give the same `trustProxy` as the guard's socket side) and where a handler's throw goes.
 */
export interface NodeFetchOptions extends ProxyTrustOptions {
  /** A throw or rejection of the handler: reported here, answered with a bare 500. */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
}

/**
 * Turn Node's `(req, res)` into a `Request` and its client, and call `fetch` safely (a throw is
 * reported and becomes a bare 500). `parsed` is the body a framework already parsed, if any.
 * The client is `req.socket`'s peer unless it is a trusted proxy.
 */
export function nodeFetchCaller(
  fetch: FetchHandler,
  options: NodeFetchOptions = {},
): (req: IncomingMessage, res: ServerResponse, parsed?: unknown) => Promise<Response> {
  const trust = createProxyTrust(options);
  const report = (error: unknown): void => {
    try {
      if (options.onError) options.onError(error, { stage: 'hook' });
      else console.error('[wsguard] fetch:', error);
    } catch {
      // A throwing error handler must not take the server down.
    }
  };
  return async (req, res, parsed) => {
    keepParsedBody(req, parsed);
    const request = new NodeRequest({ req, res });
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    const client = trust.resolve(req.socket.remoteAddress ?? '', secure, request.headers);
    try {
      return await fetch(request, client);
    } catch (error) {
      report(error);
      return new Response('internal error', { status: 500 });
    }
  };
}

/** Serve a fetch-style handler on Node's `(req, res)`: the shape Express and `http.Server` take. */
export function nodeFetchHandler(
  fetch: FetchHandler,
  options: NodeFetchOptions = {},
): (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => Promise<void> {
  const call = nodeFetchCaller(fetch, options);
  return async (req, res) => {
    try {
      await sendNodeResponse(res, await call(req, res, req.body));
    } catch {
      res.destroy(); // the client went away mid-response
    }
  };
}
