/**
 * wsguard on Bun: `serve()` for a whole server, or `bunHandler()` for the `{ fetch, websocket }`
 * pair of your own `Bun.serve`. WebSockets are crossws's Bun adapter with `maxPayloadLength` set
 * to the guard's `maxBytes` (Bun closes an oversized frame with 1009 from its header, and bounds
 * inflated frames after decompression) and a `backpressureLimit` above the slow-consumer limit.
 *
 * @example
 * ```ts
 * import { serve } from 'wsguard/adapters/bun';
 * const server = await serve({ guard, hooks, port: 8787 });
 * ```
 *
 * @module
 */
import bunAdapter from 'crossws/adapters/bun';
import type { RuntimeViolation, RuntimeViolationSignals } from '../src/core/runtime-violation.ts';
import { isWebSocketRequest } from '../src/handshake/request-shape.ts';
import { namespaceOf } from '../src/handshake/request-url.ts';
import { createProxyTrust } from '../src/handshake/trusted-proxy.ts';
import {
  closeSockets,
  type GuardedServer,
  headersTimeoutOf,
  hooksFor,
  hostPort,
  httpHandler,
  type ServeOptions,
} from '../src/transport/serve.ts';
import { setClient } from '../src/transport/slots.ts';

export type { GuardedServer, GuardedSocketOptions, ServeOptions } from '../src/transport/serve.ts';

/** The parts of Bun's `Server` the adapter uses. */
export interface BunServerLike {
  /** The socket address of a request's client. */
  requestIP(request: Request): { address: string } | null;
  /** Upgrade a request to a WebSocket. */
  upgrade(request: Request, options?: object): boolean;
  /** Stop listening; `true` also closes active connections. */
  stop(closeActiveConnections?: boolean): unknown;
  /** Where it listens. */
  readonly port?: number;
}

/** The `websocket` option of `Bun.serve`, guarded. */
export interface BunWebSocketHandler {
  /** A socket opened. */
  open(ws: unknown): void;
  /** A message arrived. */
  message(ws: unknown, message: unknown): void;
  /** A socket closed. */
  close(ws: unknown, code: number, reason: string): void;
  /** The send buffer drained. */
  drain(ws: unknown): void;
  /** The guard's `maxBytes`: larger frames are closed with 1009 before they are buffered. */
  readonly maxPayloadLength: number;
  /** Bytes buffered per socket before sends are dropped (twice the slow-consumer limit). */
  readonly backpressureLimit: number;
  /** The guard closes slow consumers itself, with 1013. */
  readonly closeOnBackpressureLimit: boolean;
  /** permessage-deflate. */
  readonly perMessageDeflate: boolean;
  /** Idle seconds. */
  readonly idleTimeout: number;
}

/** `Bun.serve({ fetch, websocket })` parts with the guard in front, and a graceful `close`. */
export interface BunHandler {
  /** Handshakes go to the guard; other requests to `options.fetch`. */
  fetch(request: Request, server: BunServerLike): Promise<Response | undefined>;
  /** Pass as `websocket` to `Bun.serve`. */
  readonly websocket: BunWebSocketHandler;
  /** Refuse new handshakes, close every socket with 1001, release leases; resolves when done. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Bun (uWebSockets, Bun 1.4) closes a frame it refuses with a close frame to the client and
 * reports the socket's close as 1006 with its own reason. An idle timeout is also a 1006 with a
 * reason ("WebSocket timed out from inactivity": a client whose network went away), and a plain
 * disconnect has none; so only these exact refusal reasons count, and anything else, including a
 * Bun that words them differently, is not attributed (the runtime suite then fails, not a client).
 */
const BUN_REFUSALS: ReadonlyMap<string, RuntimeViolation> = new Map([
  ['Received too big message', { reason: 'too_big', closeCode: 1009 }],
  ['Received too big control frame', { reason: 'too_big', closeCode: 1009 }],
  ['Received message that does not fit in memory', { reason: 'too_big', closeCode: 1009 }],
  ['Received invalid UTF-8', { reason: 'protocol', closeCode: 1007 }],
  ['Received invalid compressed data', { reason: 'protocol', closeCode: 1007 }],
  ...[
    'Received unexpected RSV1 bit',
    'Received unexpected RSV2 or RSV3 bit',
    'Received an incorrectly masked frame',
    'Received invalid opcode',
    'Received invalid close code',
    'Received invalid close payload',
    'Received continuation frame outside a fragmented message',
    'Received fragmented control frame',
    'Received new message inside a fragmented message',
  ].map((r): [string, RuntimeViolation] => [r, { reason: 'protocol', closeCode: 1002 }]),
]);

const BUN_VIOLATIONS: RuntimeViolationSignals = {
  fromClose: (code, reason) => (code === 1006 ? BUN_REFUSALS.get(reason) : undefined),
};

/**
 * The guarded `{ fetch, websocket }` pair for your own `Bun.serve`.
 *
 * @example
 * ```ts
 * const guarded = bunHandler({ guard, hooks, fetch: app.fetch });
 * Bun.serve({ port: 8787, fetch: guarded.fetch, websocket: guarded.websocket });
 * ```
 */
export function bunHandler(options: ServeOptions): BunHandler {
  const hooks = hooksFor({
    ...options,
    hookOptions: { runtimeViolations: BUN_VIOLATIONS, ...options.hookOptions },
  });
  const trust = createProxyTrust(options);
  const http = httpHandler(options);
  const secure = options.tls !== undefined;
  const ws = bunAdapter({
    hooks,
    getNamespace: namespaceOf, // the guard reuses this parse of the URL
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
  });
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  return {
    async fetch(request, server) {
      const client = trust.resolve(
        server.requestIP(request)?.address ?? '',
        secure,
        request.headers,
      );
      if (!isWebSocketRequest(request)) return http(request, client);
      // No `setHttpVersion`: neither Bun's Request nor its Server tells the request line's version,
      // and Bun upgrades an HTTP/1.0 handshake (HTTP/0.9 it refuses with 505 itself).
      setClient(request, { ...client, alive: () => !request.signal.aborted });
      try {
        const refused = await ws.handleUpgrade(request, server);
        // A response means no upgrade (the guard's refusal, or Bun's): release what was taken.
        if (refused) await hooks.abandon(request);
        return refused;
      } catch (error) {
        options.onError?.(error, { stage: 'upgrade' });
        await hooks.abandon(request);
        return new Response('internal error', { status: 500 });
      }
    },
    websocket: {
      ...(ws.websocket as Pick<BunWebSocketHandler, 'open' | 'message' | 'close' | 'drain'>),
      idleTimeout: options.idleTimeout ?? 30,
      maxPayloadLength: options.guard.maxBytes,
      backpressureLimit: 2 * maxBuffered,
      closeOnBackpressureLimit: false,
      perMessageDeflate: options.compression === true,
    },
    async close(timeoutMs?: number) {
      await closeSockets(hooks, options.guard, timeoutMs);
      await ws.close();
    },
  };
}

/** Bun's own, fixed header deadline (uWebSockets' `HTTP_IDLE_TIMEOUT_S`). */
const BUN_HEADERS_TIMEOUT_MS = 10_000;

/**
 * Serve the guarded WebSocket and `fetch` on Bun.
 *
 * @example
 * ```ts
 * const server = await serve({ guard, hooks, fetch: app.fetch, port: 8787 });
 * process.on('SIGTERM', () => server.close());
 * ```
 */
export async function serve(options: ServeOptions): Promise<GuardedServer> {
  const bun = (globalThis as { Bun?: { serve(o: object): BunServerLike } }).Bun;
  if (!bun) throw new TypeError('wsguard/adapters/bun runs on Bun; use adapters/node or deno');
  // Bun (uWebSockets) closes a connection whose request head is not complete after 10 s (measured:
  // 10–14 s, no response, even while bytes trickle in), and no option changes it: `idleTimeout`
  // covers only the time after the head. A shorter deadline cannot be kept, so it is refused.
  const headersTimeout = headersTimeoutOf(options);
  if (headersTimeout > 0 && headersTimeout < BUN_HEADERS_TIMEOUT_MS)
    throw new TypeError(
      `wsguard/adapters/bun: headersTimeoutMs ${headersTimeout} cannot be kept: Bun closes an incomplete request head after ${BUN_HEADERS_TIMEOUT_MS} ms itself, and no option shortens it`,
    );
  const guarded = bunHandler(options);
  const hostname = options.hostname ?? '127.0.0.1';
  const server = bun.serve({
    port: options.port ?? 0,
    hostname,
    // Development mode answers errors with a page that shows the stack.
    development: false,
    ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
    fetch: guarded.fetch,
    websocket: guarded.websocket,
  });
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${hostPort(hostname, server.port ?? 0)}`,
    close(): Promise<void> {
      closing ??= (async () => {
        // Stop listening; open sockets stay for their close handshake (this settles once they end).
        const stopped = Promise.resolve(server.stop(false));
        await guarded.close(options.shutdownTimeoutMs);
        await server.stop(true);
        await stopped;
      })();
      return closing;
    },
  };
}
