/**
 * Who sent a request Hono is handling, on whichever server runs the app: Hono passes the server's
 * own second argument on as `c.env`, and each runtime puts the client's socket address somewhere
 * else. The address is then resolved through the guard's `trustProxy` (never Hono's), so an HTTP
 * route (the ticket endpoint) sees the same client the handshake will be checked against.
 *
 * @module
 */
import type { Context } from 'hono';
import {
  type ClientAddress,
  type ProxyTrust,
  UNKNOWN_CLIENT,
} from '../src/handshake/trusted-proxy.ts';

/** `c.env` under `@hono/node-server`: the Node request. */
interface NodeBindings {
  readonly incoming: { readonly socket: { remoteAddress?: string; encrypted?: boolean } };
}
/** `c.env` under `Bun.serve`: the server. */
interface BunEnv {
  requestIP(request: Request): { address: string } | null;
}
/** `c.env` under `Deno.serve`: the handler info. */
interface DenoEnv {
  readonly remoteAddr: { readonly hostname: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isNode = (env: Record<string, unknown>): env is Record<string, unknown> & NodeBindings =>
  isObject(env.incoming) && isObject((env.incoming as { socket?: unknown }).socket);
const isBun = (env: Record<string, unknown>): env is Record<string, unknown> & BunEnv =>
  typeof env.requestIP === 'function';
const isDeno = (env: Record<string, unknown>): env is Record<string, unknown> & DenoEnv =>
  isObject(env.remoteAddr) &&
  typeof (env.remoteAddr as { hostname?: unknown }).hostname === 'string';
/** wsguard's own `serve({ fetch: app.fetch })` passes the client it already resolved. */
const isResolved = (env: Record<string, unknown>): env is Record<string, unknown> & ClientAddress =>
  typeof env.ip === 'string' && typeof env.secure === 'boolean' && Object.keys(env).length === 2;

/**
 * The client of the request `c` handles: its socket peer (or, behind a trusted proxy, the address
 * the proxy reports). A server Hono does not tell about the peer gives {@link UNKNOWN_CLIENT}.
 */
export function honoClient(c: Context, trust: ProxyTrust): ClientAddress {
  // Bun's server may come as `{ server }` (as Hono's `getBunServer` reads it).
  const given: unknown = c.env;
  const env: unknown =
    isObject(given) && isObject(given.server) && typeof given.server.requestIP === 'function'
      ? given.server
      : given;
  const request = c.req.raw;
  // Bun and Deno report TLS only through the URL they build from the connection.
  const urlSecure = (): boolean => request.url.startsWith('https:');
  if (!isObject(env)) return trust.resolve(UNKNOWN_CLIENT, urlSecure(), request.headers);
  if (isResolved(env)) return { ip: env.ip, secure: env.secure };
  if (isNode(env)) {
    const socket = env.incoming.socket;
    return trust.resolve(
      socket.remoteAddress ?? UNKNOWN_CLIENT,
      socket.encrypted === true,
      request.headers,
    );
  }
  if (isBun(env))
    return trust.resolve(
      env.requestIP(request)?.address ?? UNKNOWN_CLIENT,
      urlSecure(),
      request.headers,
    );
  if (isDeno(env)) return trust.resolve(env.remoteAddr.hostname, urlSecure(), request.headers);
  return trust.resolve(UNKNOWN_CLIENT, urlSecure(), request.headers);
}
