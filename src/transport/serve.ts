/**
 * What the three adapters (`adapters/node.ts`, `adapters/bun.ts`, `adapters/deno.ts`) share: their
 * options, the server they return, the HTTP side, and the order of a graceful shutdown. Runtime-free;
 * the adapters add only what their runtime does differently.
 *
 * @module
 */

import type { Guard, GuardedHooks, GuardHooks, GuardHooksOptions } from '../guard/types.ts';
import type { ClientAddress, ProxyTrustOptions } from '../handshake/trusted-proxy.ts';
import type { ErrorStage } from '../observability/report.ts';
import { ticketHandler } from './ticket-route.ts';

/** A certificate and its key, PEM-encoded. */
export interface TlsOptions {
  /** Certificate chain (PEM). */
  readonly cert: string;
  /** Private key (PEM). */
  readonly key: string;
}

/** Options for the WebSocket side of an adapter (its lower-level handler). */
export interface GuardedSocketOptions extends ProxyTrustOptions {
  /** The guard every handshake and frame goes through. */
  readonly guard: Guard;
  /** The app's crossws hooks; they only see connections and frames the guard let through. */
  readonly hooks?: GuardedHooks;
  /**
   * Bytes queued for a client before it is closed with 1013.
   * @default 1048576
   */
  readonly maxBufferedBytes?: number;
  /**
   * permessage-deflate. Off by default: compression costs memory per socket, and an inflated frame
   * must be bounded after decompression (Node and Bun bound it by the guard's `maxBytes`; Deno
   * does not negotiate it).
   * @default false
   */
  readonly compression?: boolean;
  /**
   * Idle seconds before a silent socket is pinged and dropped (crossws `idleTimeout`).
   * @default 30
   */
  readonly idleTimeout?: number;
  /** More options for the hooks (queue bounds, timeouts, `path`). */
  readonly hookOptions?: GuardHooksOptions;
  /** Failures of hooks and of the app's `fetch`; never thrown. @default console.error */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
}

/** Options of an adapter's `serve`. */
export interface ServeOptions extends GuardedSocketOptions {
  /**
   * Where `serve` answers `POST` ticket requests itself ({@link ticketHandler}) when the guard
   * issues tickets (`tickets` in `createGuard`), before `fetch` sees them; `false` leaves every
   * path to `fetch` (mount `ticketHandler` yourself, with your own options).
   * @default '/ws/ticket'
   */
  readonly ticketPath?: string | false;
  /** Plain HTTP requests (anything that is not a WebSocket handshake). @default 404 */
  readonly fetch?: (request: Request, client: ClientAddress) => Response | Promise<Response>;
  /**
   * Port; 0 picks a free one (read it from `url`).
   * @default 0
   */
  readonly port?: number;
  /**
   * Interface to listen on. Loopback by default: listening on every interface is a decision.
   * @default '127.0.0.1'
   */
  readonly hostname?: string;
  /** Serve `https:`/`wss:` with this certificate. */
  readonly tls?: TlsOptions;
  /**
   * How long a graceful `close()` waits for sockets to finish their close handshake before
   * cutting them.
   * @default 5000
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * The header deadline: how long a connection may take from TCP accept (and the TLS handshake)
   * to a complete request head before it is closed (Slowloris). Node: `408`, then close (its
   * `headersTimeout`, checked every quarter of it). Deno: `408` from the adapter's front (see
   * `adapters/deno-front.ts`); `0` serves through plain `Deno.serve`, which has no deadline.
   * Bun: fixed by Bun at 10 s (closed without a response after 10–14 s), so a value below
   * 10 000 is refused and a larger one (or `0`) leaves Bun's.
   * @default 10000
   */
  readonly headersTimeoutMs?: number;
}

/** {@link ServeOptions.headersTimeoutMs} with its default; throws on a value that is no duration. */
export function headersTimeoutOf(options: ServeOptions): number {
  const ms = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms))
    throw new TypeError(
      `wsguard: headersTimeoutMs must be a whole number of milliseconds >= 0 (got ${ms})`,
    );
  return ms;
}

/** The default header deadline: Bun's own, and far above what a real client needs for a head. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

/** A running server. */
export interface GuardedServer {
  /** Base URL (`http://127.0.0.1:PORT` or `https://…`); WebSocket clients use `ws:`/`wss:`. */
  readonly url: string;
  /**
   * Graceful shutdown: refuse new handshakes, close every socket with 1001, release every lease,
   * stop listening; resolves when done.
   */
  close(): Promise<void>;
}

/** The hooks an adapter mounts, with the adapter's options applied. */
export function hooksFor(options: GuardedSocketOptions): GuardHooks {
  return options.guard.hooks(options.hooks, {
    ...(options.maxBufferedBytes !== undefined
      ? { maxBufferedBytes: options.maxBufferedBytes }
      : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    ...options.hookOptions,
  });
}

/**
 * The HTTP side of `serve`: the ticket route when the guard issues tickets, then the app's
 * `fetch`, made safe (a throw becomes a bare 500 and a call to `onError`).
 */
export function httpHandler(
  options: ServeOptions,
): (request: Request, client: ClientAddress) => Promise<Response> {
  const report = (error: unknown): void => {
    try {
      if (options.onError) options.onError(error, { stage: 'hook' });
      else console.error('[wsguard] fetch:', error);
    } catch {
      // A throwing error handler must not take the server down.
    }
  };
  const ticketPath =
    options.ticketPath !== false && options.guard.issuesTickets
      ? (options.ticketPath ?? '/ws/ticket')
      : undefined;
  const tickets = ticketPath === undefined ? undefined : ticketHandler(options.guard);
  return async (request, client) => {
    if (tickets && new URL(request.url).pathname === ticketPath) {
      return tickets(request, client.ip);
    }
    if (!options.fetch) return new Response('not found', { status: 404 });
    try {
      return await options.fetch(request, client);
    } catch (error) {
      report(error);
      return new Response('internal error', { status: 500 });
    }
  };
}

/**
 * The socket half of a graceful shutdown: refuse new handshakes, close every connection of the
 * guard with 1001 and release its leases, wait for sockets to finish closing, cut the rest.
 */
export async function closeSockets(
  hooks: GuardHooks,
  guard: Guard,
  timeoutMs = 5000,
): Promise<void> {
  hooks.stop();
  await guard.shutdown();
  if (!(await hooks.drained(timeoutMs))) {
    hooks.terminateAll();
    await hooks.drained(1000);
  }
}

/** `host:port` for a URL, bracketing IPv6. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
