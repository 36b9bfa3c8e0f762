/**
 * wsguard on Deno: `serve()` for a whole server, or `denoHandler()` for your own `Deno.serve`.
 * WebSockets are crossws's Deno adapter over `Deno.upgradeWebSocket`.
 *
 * `serve()` puts a TCP front before `Deno.serve` (`deno-front.ts`), because `Deno.serve` has no
 * header deadline, no inbound frame limit, accepts unmasked client frames and loses its close
 * frame when the client keeps sending: the front closes a connection whose request head is not
 * complete after `headersTimeoutMs` (408), refuses a message over the guard's `maxBytes` (1009)
 * or an unmasked frame (1002) from its header, delivers the close code Deno dropped, and reads
 * the request line's HTTP version. `headersTimeoutMs: 0` (and `denoHandler` under your own
 * `Deno.serve`) goes without it: then Deno buffers a whole message (up to 64 MiB) before the
 * guard closes it with 1009 (measured in docs/adapters.md). Deno does not negotiate
 * permessage-deflate, so `compression` has no effect here.
 *
 * @example
 * ```ts
 * import { serve } from 'wsguard/adapters/deno';
 * const server = await serve({ guard, hooks, port: 8787 });
 * ```
 *
 * @module
 */
import type { Hooks, Peer } from 'crossws';
import denoAdapter from 'crossws/adapters/deno';
import type { RuntimeViolation, RuntimeViolationSignals } from '../src/core/runtime-violation.ts';
import { isWebSocketRequest, setHttpVersion } from '../src/handshake/request-shape.ts';
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
import type { FrameRefusal } from './deno-frames.ts';
import { type DenoFront, type DenoNet, type FrontLink, startFront } from './deno-front.ts';

export type { GuardedServer, GuardedSocketOptions, ServeOptions } from '../src/transport/serve.ts';

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

interface DenoLike extends DenoNet {
  serve(options: object, handler: DenoHandler): DenoServer;
}

/** The front's link of a handshake, on its request (crossws's peer.request reads through to it). */
const LINK = Symbol('wsguard.frontLink');
/** The hooks' report for a runtime refusal, on the peer (set when the socket opens). */
const REPORT = Symbol('wsguard.report');
type LinkSlot = { [LINK]?: FrontLink };
type ReportSlot = { [REPORT]?: (violation: RuntimeViolation) => void };

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
    // Frames the front refused (size, mask) are reported through the same hook.
    (peer as ReportSlot)[REPORT] = report;
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
  return createHandler(options, undefined);
}

/**
 * Tell the front the close the server asks for, so it can deliver the code if Deno drops its close
 * frame (the hooks may close at open already: a credential refusal), and let `terminate` cut the
 * connection. Returns the close to use for a frame the front refused.
 */
function interceptClose(peer: Peer, link: FrontLink): (code: number, reason: string) => void {
  const socket = peer.websocket as {
    close?: (code?: number, reason?: string) => void;
    terminate?: () => void;
  };
  // crossws's `peer.terminate()` calls this, which Deno's WebSocket does not have.
  if (typeof socket.terminate !== 'function') socket.terminate = () => link.terminate();
  const close = socket.close;
  if (typeof close !== 'function') return () => {};
  socket.close = function (this: unknown, code?: number, reason?: string): void {
    link.closing(code ?? 1005, reason ?? '');
    close.call(this, code, reason);
  };
  return (code, reason) => socket.close?.(code, reason);
}

/** A frame the front refused: the hooks are told (audit, counter, penalty), then it is closed. */
function onFrontRefusal(peer: Peer, link: FrontLink, close: (c: number, r: string) => void): void {
  link.onRefusal((refusal: FrameRefusal) => {
    (peer as ReportSlot)[REPORT]?.(refusal);
    try {
      close(refusal.closeCode, refusal.message);
    } catch {
      // Already closing.
    }
  });
}

/** The handler, with the front's links when `serve()` runs one. */
function createHandler(
  options: ServeOptions,
  linkOf: ((info: DenoServeInfo) => FrontLink | undefined) | undefined,
): DenoHandler {
  const hooks = hooksFor({
    ...options,
    hookOptions: { runtimeViolations: DENO_VIOLATIONS, ...options.hookOptions },
  });
  const trust = createProxyTrust(options);
  const http = httpHandler(options);
  const secure = options.tls !== undefined;
  const open: Hooks['open'] = (peer) => {
    const link = (peer.request as LinkSlot | undefined)?.[LINK];
    const close = link ? interceptClose(peer, link) : undefined;
    const r = hooks.open?.(peer);
    // After the hooks' open: its watch has stored the report a refusal goes to.
    if (link && close) onFrontRefusal(peer, link, close);
    return r;
  };
  const ws = denoAdapter({
    hooks: { ...hooks, open },
    getNamespace: namespaceOf, // the guard reuses this parse of the URL
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
  });
  const handler = (async (request: Request, info: DenoServeInfo): Promise<Response> => {
    let remoteAddr = info.remoteAddr;
    let link: FrontLink | undefined;
    if (linkOf) {
      link = linkOf(info);
      // The private port is reachable from this host: a connection that did not come through
      // the front has no client address and no deadline.
      if (!link) return new Response('forbidden', { status: 403 });
      remoteAddr = link.client;
    }
    const client = trust.resolve(remoteAddr?.hostname ?? '', secure, request.headers);
    if (!isWebSocketRequest(request)) return http(request, client);
    if (link) {
      (request as LinkSlot)[LINK] = link;
      if (link.httpVersion !== undefined) setHttpVersion(request, link.httpVersion);
    }
    // No liveness probe here: Deno's `request.signal` aborts on every completed response, and a
    // socket whose client vanished during the check never opens nor closes; the hooks' open
    // timeout releases it.
    setClient(request, client);
    try {
      const response = await ws.handleUpgrade(request, remoteAddr ? { remoteAddr } : {});
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

/** `Deno.serve`, resolved once it listens. */
function listen(deno: DenoLike, options: object, handler: DenoHandler): Promise<DenoServer> {
  return new Promise<DenoServer>((resolve) => {
    const s: DenoServer = deno.serve(
      {
        ...options,
        // The default prints to stdout; a library stays quiet.
        onListen: () => queueMicrotask(() => resolve(s)),
      },
      handler,
    );
  });
}

/** Wait for `promise`, at most `ms`. */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
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
  const headersTimeoutMs = headersTimeoutOf(options);
  const hostname = options.hostname ?? '127.0.0.1';
  const timeoutMs = options.shutdownTimeoutMs ?? 5000;
  const scheme = options.tls ? 'https' : 'http';
  if (headersTimeoutMs === 0) {
    // Plain Deno.serve: no header deadline, no frame limit before the guard.
    const handler = denoHandler(options);
    const server = await listen(
      deno,
      {
        port: options.port ?? 0,
        hostname,
        ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      },
      handler,
    );
    let closing: Promise<void> | undefined;
    return {
      url: `${scheme}://${hostPort(hostname, server.addr.port)}`,
      close(): Promise<void> {
        closing ??= (async () => {
          // Stop listening; open sockets stay for their close handshake.
          const stopped = server.shutdown();
          await handler.close(timeoutMs);
          // A handshake whose client vanished mid-upgrade never settles in Deno.
          await bounded(stopped, timeoutMs);
        })();
        return closing;
      },
    };
  }
  let front: DenoFront | undefined;
  const handler = createHandler(options, (info) => front?.linkOf(info.remoteAddr));
  // The private server: plain HTTP on loopback, reached only through the front.
  const server = await listen(deno, { port: 0, hostname: '127.0.0.1' }, handler);
  front = startFront(deno, {
    hostname,
    port: options.port ?? 0,
    tls: options.tls,
    headersTimeoutMs,
    maxMessageBytes: options.guard.maxBytes,
    upstreamPort: server.addr.port,
  });
  const started = front;
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${hostPort(hostname, started.port)}`,
    close(): Promise<void> {
      closing ??= (async () => {
        started.stop();
        const stopped = server.shutdown();
        await handler.close(timeoutMs);
        await bounded(stopped, timeoutMs);
        started.closeAll();
      })();
      return closing;
    },
  };
}
