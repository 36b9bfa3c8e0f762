/**
 * wsguard on Deno: `serve()` for a whole server, or `denoHandler()` for your own `Deno.serve`.
 * WebSockets are crossws's Deno adapter over `Deno.upgradeWebSocket`.
 *
 * Deno has no option to limit an inbound frame: it buffers a whole message before the guard
 * sees it (measured in docs/adapters.md), and the guard closes it with 1009 then. It does not
 * negotiate permessage-deflate, so `compression` has no effect here.
 *
 * @example
 * ```ts
 * import { serve } from 'wsguard/adapters/deno';
 * const server = await serve({ guard, hooks, port: 8787 });
 * ```
 *
 * @module
 */
import denoAdapter from 'crossws/adapters/deno';
import { isWebSocketRequest } from '../src/handshake.ts';
import { setClient } from '../src/hooks.ts';
import { namespaceOf } from '../src/request-url.ts';
import type { RuntimeViolation, RuntimeViolationSignals } from '../src/runtime-violation.ts';
import {
  closeSockets,
  type GuardedServer,
  hooksFor,
  hostPort,
  httpHandler,
  type ServeOptions,
} from '../src/serve.ts';
import { createProxyTrust } from '../src/trusted-proxy.ts';

export type { GuardedServer, GuardedSocketOptions, ServeOptions } from '../src/serve.ts';

/** The second argument of a `Deno.serve` handler (the parts used here). */
export interface DenoServeInfo {
  /** The client's socket address. */
  readonly remoteAddr?: { readonly hostname: string; readonly port: number };
}

/** A `Deno.serve` handler with the guard in front, and a graceful `close`. */
export interface DenoHandler {
  /** Handshakes go to the guard; other requests to `options.fetch`. */
  (request: Request, info: DenoServeInfo): Promise<Response>;
  /** Refuse new handshakes, close every socket with 1001, release leases; resolves when done. */
  close(timeoutMs?: number): Promise<void>;
}

interface DenoServer {
  readonly addr: { readonly hostname: string; readonly port: number };
  shutdown(): Promise<void>;
}

interface DenoLike {
  serve(options: object, handler: DenoHandler): DenoServer;
}

/**
 * Deno fails a connection on a broken frame without a close frame (the client sees 1006) and
 * reports it only as an `error` event whose message names the frame ("Reserved bits are not
 * zero", "Invalid UTF-8", "Frame too large"…); crossws passes that event on as a `WSError` that
 * keeps no message, so the adapter listens on the socket itself. A disconnect ("Unexpected EOF",
 * an I/O error) matches none of these and is not attributed. Unmasked client frames are accepted
 * by Deno (see docs/adapters.md) and so never reported.
 */
const DENO_PROTOCOL_ERRORS =
  /^(Reserved bits|Invalid UTF-8|Invalid fragment|Invalid continuation frame|Invalid close frame|Invalid close code|Invalid status code|Control frame must not be fragmented|Ping frame too large)/;
const denoRefusal = (message: string): RuntimeViolation | undefined =>
  /^Frame too large/.test(message)
    ? { reason: 'too_big', closeCode: 1006 }
    : DENO_PROTOCOL_ERRORS.test(message)
      ? { reason: 'protocol', closeCode: 1006 }
      : undefined;
const DENO_VIOLATIONS: RuntimeViolationSignals = {
  watch(peer, report) {
    const socket = peer.websocket as {
      addEventListener?: (type: 'error', listener: (event: { message?: unknown }) => void) => void;
    };
    socket.addEventListener?.('error', (event) => {
      const v = typeof event.message === 'string' ? denoRefusal(event.message) : undefined;
      if (v) report(v);
    });
  },
};

/**
 * The guarded handler for your own `Deno.serve`.
 *
 * @example
 * ```ts
 * const handler = denoHandler({ guard, hooks, fetch: app.fetch });
 * Deno.serve({ port: 8787 }, handler);
 * ```
 */
export function denoHandler(options: ServeOptions): DenoHandler {
  const hooks = hooksFor({
    ...options,
    hookOptions: { runtimeViolations: DENO_VIOLATIONS, ...options.hookOptions },
  });
  const trust = createProxyTrust(options);
  const http = httpHandler(options);
  const secure = options.tls !== undefined;
  const ws = denoAdapter({
    hooks,
    getNamespace: namespaceOf, // the guard reuses this parse of the URL
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
  });
  const handler = (async (request: Request, info: DenoServeInfo): Promise<Response> => {
    const client = trust.resolve(info.remoteAddr?.hostname ?? '', secure, request.headers);
    if (!isWebSocketRequest(request)) return http(request, client);
    // No liveness probe here: Deno's `request.signal` aborts on every completed response, and a
    // socket whose client vanished during the check never opens nor closes; the hooks' open
    // timeout releases it.
    setClient(request, client);
    try {
      const response = await ws.handleUpgrade(request, info);
      // 101 means the socket opens after this returns; anything else is a refusal.
      if (response.status !== 101) await hooks.abandon(request);
      return response;
    } catch (error) {
      options.onError?.(error, { stage: 'upgrade' });
      await hooks.abandon(request);
      return new Response('internal error', { status: 500 });
    }
  }) as DenoHandler;
  handler.close = async (timeoutMs?: number): Promise<void> => {
    await closeSockets(hooks, options.guard, timeoutMs);
    await ws.close();
  };
  return handler;
}

/**
 * Serve the guarded WebSocket and `fetch` on Deno.
 *
 * @example
 * ```ts
 * const server = await serve({ guard, hooks, fetch: app.fetch, port: 8787 });
 * Deno.addSignalListener('SIGTERM', () => server.close());
 * ```
 */
export async function serve(options: ServeOptions): Promise<GuardedServer> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (!deno) throw new TypeError('wsguard/adapters/deno runs on Deno; use adapters/node or bun');
  const handler = denoHandler(options);
  const hostname = options.hostname ?? '127.0.0.1';
  const server = await new Promise<DenoServer>((resolve) => {
    const s: DenoServer = deno.serve(
      {
        port: options.port ?? 0,
        hostname,
        ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
        // The default prints to stdout; a library stays quiet.
        onListen: () => queueMicrotask(() => resolve(s)),
      },
      handler,
    );
  });
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${hostPort(hostname, server.addr.port)}`,
    close(): Promise<void> {
      closing ??= (async () => {
        // Stop listening; open sockets stay for their close handshake (this settles once they end).
        const stopped = server.shutdown();
        const timeoutMs = options.shutdownTimeoutMs ?? 5000;
        await handler.close(timeoutMs);
        // A handshake whose client vanished mid-upgrade never settles in Deno: do not wait forever.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
