/**
 * wsguard on Node: `serve()` for a whole server, or `upgradeHandler()` for an `http.Server` you
 * already have. WebSockets are crossws's Node adapter (`ws` inside) with `maxPayload` set to the
 * guard's `maxBytes`, so an oversized frame is refused (1009) from its header, before its payload
 * is buffered, and an inflated frame is bounded the same way after decompression.
 *
 * @example
 * ```ts
 * import { serve } from 'wsguard/adapters/node';
 * const server = await serve({ guard, hooks, port: 8787, trustProxy: ['10.0.0.0/8'] });
 * ```
 *
 * @module
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Hooks, Peer } from 'crossws';
import nodeAdapter from 'crossws/adapters/node';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { RuntimeViolationSignals } from '../src/core/runtime-violation.ts';
import { setHttpVersion } from '../src/handshake/request-shape.ts';
import { namespaceOf } from '../src/handshake/request-url.ts';
import { createProxyTrust } from '../src/handshake/trusted-proxy.ts';
import {
  closeSockets,
  type GuardedServer,
  type GuardedSocketOptions,
  headersTimeoutOf,
  hooksFor,
  hostPort,
  httpHandler,
  type ServeOptions,
} from '../src/transport/serve.ts';
import { setClient } from '../src/transport/slots.ts';

export type { GuardedServer, GuardedSocketOptions, ServeOptions } from '../src/transport/serve.ts';
export { nodeServerOptions } from './node-http.ts';

/**
 * `ws` reports a frame it refused as an `error` event (crossws passes it on as a `WSError` whose
 * message is the original's `String()`), then closes with the error's code. These messages come
 * from its receiver, that is from the client's frames: over `maxPayload` (1009), too many
 * fragments or buffered chunks (1008), invalid UTF-8 (1007), any other invalid frame (1002).
 * Anything else (its sender's rare error when a Blob cannot be read, say) is not attributed.
 */
const WS_VIOLATIONS: RuntimeViolationSignals = {
  fromError(error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/Max payload size exceeded|payload length > 2\^53 - 1/.test(message))
      return { reason: 'too_big', closeCode: 1009 };
    if (/Too many message fragments|Too many buffered chunks/.test(message))
      return { reason: 'protocol', closeCode: 1008 };
    if (/Invalid WebSocket frame: invalid UTF-8/.test(message))
      return { reason: 'protocol', closeCode: 1007 };
    if (/Invalid WebSocket frame:/.test(message)) return { reason: 'protocol', closeCode: 1002 };
    return undefined;
  },
};

/** What crossws's Node peer reads of the handshake's `IncomingMessage` once it is open. */
interface RetainedRequest {
  readonly socket: IncomingMessage['socket'];
  readonly _context: unknown;
}

/**
 * Once a socket's open hook has run, its peer holds, instead of Node's `IncomingMessage`, only what
 * crossws reads of it from then on: the socket (`peer.remoteAddress`) and the context
 * (`peer.context`). What the app reads is unchanged: `peer.request` is crossws's own view of the
 * request (its URL and the parsed headers object, kept), made before the open hook. The message
 * itself (its stream state, `rawHeaders` and their strings: ~0.9 KiB of every idle connection)
 * becomes garbage, unless someone else holds it: the `ws` integration hands it to the app's
 * `connection` listener during the open hook, and it stays whole for as long as the app keeps it.
 * A crossws whose peer is shaped otherwise is left as it is.
 */
function releasingRequest<H extends Hooks>(hooks: H): H {
  const wrapped = Object.create(hooks) as H;
  wrapped.open = (peer: Peer) => {
    try {
      return hooks.open?.(peer);
    } finally {
      const internal = (peer as unknown as { _internal?: { nodeReq?: unknown } })._internal;
      const req = internal?.nodeReq as (IncomingMessage & { _context?: unknown }) | undefined;
      if (internal && req && typeof req === 'object' && 'socket' in req && '_context' in req)
        internal.nodeReq = { socket: req.socket, _context: req._context } satisfies RetainedRequest;
    }
  };
  return wrapped;
}

/** An `upgrade` listener for `http.Server`/`https.Server`, with a graceful `close`. */
export interface NodeUpgradeHandler {
  /** Pass to `server.on('upgrade', handler)`. */
  (req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Refuse new handshakes, close every socket with 1001, release leases; resolves when done. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The guarded WebSocket side as an `upgrade` listener, for an existing Node server.
 *
 * @example
 * ```ts
 * const upgrade = upgradeHandler({ guard, hooks });
 * httpServer.on('upgrade', upgrade);
 * ```
 */
export function upgradeHandler(options: GuardedSocketOptions): NodeUpgradeHandler {
  // `ws` opens or refuses the socket before handleUpgrade resolves, and `abandon` runs right after:
  // an accepted handshake cannot be left pending, so it needs no open timer per handshake.
  const hooks = hooksFor({
    ...options,
    hookOptions: { openTimeoutMs: 0, runtimeViolations: WS_VIOLATIONS, ...options.hookOptions },
  });
  const trust = createProxyTrust(options);
  const ws = nodeAdapter({
    hooks: releasingRequest(hooks),
    getNamespace: namespaceOf, // the guard reuses this parse of the URL
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
    serverOptions: {
      maxPayload: options.guard.maxBytes,
      perMessageDeflate: options.compression === true,
    },
  });

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const peerIp = (socket as { remoteAddress?: string }).remoteAddress;
    if (peerIp === undefined) {
      socket.destroy(); // reset before we even looked
      return;
    }
    const request = new NodeRequest({ req });
    // RFC 6455 wants HTTP/1.1 or higher; `ws` upgrades an HTTP/1.0 (even 0.9) request.
    setHttpVersion(request, req.httpVersion);
    const secure = (socket as { encrypted?: boolean }).encrypted === true;
    const client = trust.resolve(peerIp, secure, request.headers);
    setClient(request, {
      ip: client.ip,
      secure: client.secure,
      alive: () => !socket.destroyed && socket.readable && socket.writable,
    });
    try {
      await ws.handleUpgrade(req, socket, head, request);
    } finally {
      // ws refuses some handshakes after the hook accepted them (a socket that died meanwhile,
      // a server closing): whatever the guard took for this one is given back. On Node the socket
      // has opened (or been refused) by the time handleUpgrade resolves, so this is final.
      hooks.abandon(request);
      // crossws keeps the request it upgraded on `req._request` and never reads it again (the
      // peer gets its own view of `req`): dropped, the handshake's Request, its headers, URL and
      // client slot are not held for the socket's whole life (~0.7 KiB per idle connection).
      (req as { _request?: unknown })._request = undefined;
    }
  };

  const onSocketError = function (this: Duplex): void {
    this.destroy();
  };
  const handler = ((req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node removes its own error handling from a socket once it emits 'upgrade'. Without this, a
    // client resetting the connection while the async check runs crashes the process (ECONNRESET).
    socket.on('error', onSocketError);
    upgrade(req, socket, head).catch((error: unknown) => {
      socket.destroy();
      options.onError?.(error, { stage: 'upgrade' });
    });
  }) as NodeUpgradeHandler;
  handler.close = async (timeoutMs?: number): Promise<void> => {
    await closeSockets(hooks, options.guard, timeoutMs);
    await ws.close();
  };
  return handler;
}

/**
 * Serve the guarded WebSocket and `fetch` on Node. Resolves once listening.
 *
 * @example
 * ```ts
 * const server = await serve({ guard, hooks, fetch: app.fetch, port: 8787 });
 * process.on('SIGTERM', () => server.close());
 * ```
 */
export async function serve(options: ServeOptions): Promise<GuardedServer> {
  const upgrade = upgradeHandler(options);
  const trust = createProxyTrust(options);
  const http = httpHandler(options);
  const secure = options.tls !== undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const request = new NodeRequest({ req, res });
    const client = trust.resolve(req.socket.remoteAddress ?? '', secure, request.headers);
    http(request, client)
      .then((response) => sendNodeResponse(res, response))
      .catch(() => res.destroy()); // the client went away mid-response
  };
  // Node's own header deadline, checked every `connectionsCheckingInterval` (30 s by default, so
  // its 60 s `headersTimeout` closed a partial head after 60–90 s): a quarter of the deadline.
  const headersTimeout = headersTimeoutOf(options);
  const timeouts = {
    headersTimeout,
    // It must not be below headersTimeout; Node's default otherwise.
    requestTimeout: Math.max(300_000, headersTimeout),
    connectionsCheckingInterval:
      headersTimeout > 0 ? Math.min(30_000, Math.max(250, Math.floor(headersTimeout / 4))) : 30_000,
  };
  const server = options.tls
    ? createHttpsServer({ ...timeouts, cert: options.tls.cert, key: options.tls.key }, handler)
    : createHttpServer(timeouts, handler);
  server.on('upgrade', upgrade);
  const hostname = options.hostname ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `${secure ? 'https' : 'http'}://${hostPort(hostname, port)}`,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await upgrade.close(options.shutdownTimeoutMs);
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
