/**
 * Fetch-style HTTP handlers (`Request → Response`) around the guard, so any framework (Hono,
 * srvx, Bun.serve, Deno.serve, Node through an adapter) can mount them: the ticket endpoint,
 * admin stats, Prometheus metrics and health, each with security headers.
 *
 * The ticket endpoint authenticates by `Authorization: Bearer` only, never by cookie: another
 * site's page cannot make a browser attach that header without a CORS preflight, which this
 * handler never grants to a foreign origin, and a foreign `Origin` is refused outright.
 *
 * Bodies are bounded while they are read (`body.ts`): a handler that takes a body reads at most
 * its limit and answers 413 ({@link bodyRefused}), and a declared `Content-Length` over the limit
 * is refused unread. The metrics endpoint refuses to exist unprotected: it needs a bearer
 * `token`, or `public: true` said out loud for a listener nobody else reaches.
 *
 * @module
 */

import type { Principal } from '../auth/principal.ts';
import { bannedReason } from '../core/ban-reason.ts';
import { sha256Hex } from '../core/encoding.ts';
import { GuardConfigError } from '../core/errors.ts';
import type { Guard } from '../guard/types.ts';
import type { BodyRefusal } from './body.ts';

/** Headers every response carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** A strict CSP for a page that loads only its own scripts and styles and talks to its own origin. */
export const STRICT_CSP: string =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Add the security headers (and a CSP, for HTML) to a response. */
export function withSecurityHeaders(response: Response, csp?: string): Response {
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!headers.has(k)) headers.set(k, v);
  if (csp !== undefined) headers.set('content-security-policy', csp);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

/** A JSON response with security headers and `Cache-Control: no-store`. */
export function json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return withSecurityHeaders(
    new Response(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...extra,
      },
    }),
  );
}

/**
 * The answer to a body refused by `readBody` or `readJson` (413, 408, 415, 400), with
 * `Connection: close`: the rest of the body is never read, so the connection cannot carry
 * another request.
 */
export function bodyRefused(refusal: BodyRefusal, extra: Record<string, string> = {}): Response {
  return json({ error: refusal.error }, refusal.status, { connection: 'close', ...extra });
}

function bearer(request: Request): string | undefined {
  const h = request.headers.get('authorization');
  if (!h || h.length < 8 || h.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const t = h.slice(7).trim();
  return t.length > 0 && t.length <= 8192 ? t : undefined;
}

/** The principal of a request's bearer token, or the 401 to answer. Cookies never authenticate. */
export async function authenticate(guard: Guard, request: Request): Promise<Principal | Response> {
  const token = bearer(request);
  if (!token)
    return json({ error: 'bearer token required' }, 401, { 'www-authenticate': 'Bearer' });
  try {
    return await guard.verifyToken(token);
  } catch {
    return json({ error: 'invalid token' }, 401, {
      'www-authenticate': 'Bearer error="invalid_token"',
    });
  }
}

/**
 * The answer to a banned IP or user: 403, `Retry-After`, and a body a browser can read (a refused
 * WebSocket handshake hides its status from the page, this response does not):
 * `{ "error": { "code": "BANNED", "message": "banned until <ISO>", "until": "<ISO>", "retryAfterSec": N } }`.
 */
export function bannedResponse(until: number, extra: Record<string, string> = {}): Response {
  const retryAfterSec = Math.max(1, Math.ceil((until - Date.now()) / 1000));
  const iso = new Date(until).toISOString();
  return json(
    { error: { code: 'BANNED', message: bannedReason(until), until: iso, retryAfterSec } },
    403,
    { 'retry-after': String(retryAfterSec), ...extra },
  );
}

/** Options for {@link statsHandler}. */
export interface StatsHandlerOptions {
  /**
   * Who may read the stats.
   * @default principals with the `admin` permission
   */
  readonly authorize?: (principal: Principal) => boolean;
}

/**
 * `GET /ws/stats` for an authorized bearer: counters, rejections by reason, and per-connection
 * metadata (IP, user, origin, user agent, connect time, last activity) — never credentials.
 */
export function statsHandler(
  guard: Guard,
  options: StatsHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const authorize = options.authorize ?? ((p: Principal) => guard.can(p, 'admin'));
  return async (request) => {
    if (request.method !== 'GET')
      return json({ error: 'method not allowed' }, 405, { allow: 'GET' });
    const principal = await authenticate(guard, request);
    if (principal instanceof Response) return principal;
    if (!authorize(principal)) return json({ error: 'forbidden' }, 403);
    const connections = [...guard.connections()].map((c) => ({
      id: c.id,
      ip: c.ip,
      userId: c.principal?.sub ?? null,
      origin: c.origin,
      userAgent: c.userAgent ?? null,
      connectedAt: new Date(c.connectedAt).toISOString(),
      lastActivity: new Date(c.lastActivity).toISOString(),
    }));
    return json({ ...guard.stats(), connectionList: connections });
  };
}

/**
 * Who may read the metrics ({@link metricsHandler}). One of the two, said explicitly:
 * - `token`: a bearer token (at least 32 characters of visible ASCII, e.g. `openssl rand -hex 32`;
 *   several for rotation), compared in constant time. Prometheus sends it with
 *   `authorization: { credentials_file: … }` in the scrape config.
 * - `public: true`: no check, for a listener nobody else can reach (a second server bound to a
 *   private interface, or a port only the scraper's network may open). The metrics count
 *   connections, users, refusals and bans: on a public listener they tell an attacker how their
 *   attack is doing.
 */
export type MetricsHandlerOptions =
  | { readonly token: string | readonly string[]; readonly public?: undefined }
  | { readonly public: true; readonly token?: undefined };

/**
 * Check the options (a `GuardConfigError` lists every problem) and build the token check, or
 * `undefined` for `public: true`. Tokens are kept as SHA-256 digests, and every check compares
 * the presented token's digest with all of them.
 */
function tokenCheck(
  options: MetricsHandlerOptions,
): ((presented: string) => Promise<boolean>) | undefined {
  const o = (options ?? {}) as { token?: unknown; public?: unknown };
  const problems: string[] = [];
  if (o.public !== undefined && o.public !== true)
    problems.push('metricsHandler: `public` must be `true` or absent');
  if (o.public === true && o.token !== undefined)
    problems.push('metricsHandler: pass either `token` or `public: true`, not both');
  if (o.public === undefined && o.token === undefined)
    problems.push(
      'metricsHandler: the metrics need a bearer `token` ({ token: process.env.METRICS_TOKEN }), or `public: true` for a listener only the scraper can reach',
    );
  const tokens = o.token === undefined ? [] : Array.isArray(o.token) ? o.token : [o.token];
  if (o.token !== undefined && tokens.length === 0)
    problems.push('metricsHandler: `token` is an empty list');
  for (const t of tokens)
    if (typeof t !== 'string' || t.length < 32 || t.length > 8192 || !/^[\x21-\x7e]+$/.test(t))
      problems.push(
        'metricsHandler: each `token` must be 32 to 8192 characters of visible ASCII (e.g. `openssl rand -hex 32`)',
      );
  if (problems.length > 0) throw new GuardConfigError(problems);
  if (o.public === true) return undefined;
  const allowed = Promise.all((tokens as string[]).map((t) => sha256Hex(t)));
  return async (presented) => {
    // Digests, so the comparison takes the same time whatever the presented token's length.
    const [digest, hashes] = await Promise.all([sha256Hex(presented), allowed]);
    let match = 0;
    for (const h of hashes) {
      let diff = 0;
      for (let i = 0; i < h.length; i++) diff |= h.charCodeAt(i) ^ digest.charCodeAt(i);
      match |= diff === 0 ? 1 : 0; // no early exit: every allowed token is compared
    }
    return match === 1;
  };
}

/**
 * `GET /metrics` (and `HEAD`): Prometheus text, for a bearer `token` or, said explicitly,
 * `public: true` (see {@link MetricsHandlerOptions}). Without either it throws
 * `GuardConfigError`: an unprotected metrics endpoint is never the default. A missing or wrong
 * token gets 401 (`WWW-Authenticate: Bearer`), other methods 405.
 *
 * @example
 * ```ts
 * const metrics = metricsHandler(guard, { token: process.env.METRICS_TOKEN! });
 * // or, on a second server bound to a private interface:
 * const internal = metricsHandler(guard, { public: true });
 * ```
 */
export function metricsHandler(
  guard: Guard,
  options: MetricsHandlerOptions,
): (request: Request) => Promise<Response> {
  const check = tokenCheck(options);
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return json({ error: 'method not allowed' }, 405, { allow: 'GET, HEAD' });
    if (check) {
      const token = bearer(request);
      if (token === undefined || !(await check(token)))
        return json({ error: 'bearer token required' }, 401, {
          'www-authenticate': 'Bearer realm="metrics"',
        });
    }
    return withSecurityHeaders(
      new Response(request.method === 'HEAD' ? null : guard.metrics(), {
        headers: {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          'cache-control': 'no-store',
        },
      }),
    );
  };
}

/**
 * Liveness, `GET /healthz`: `200 ok` whenever the process answers, whatever its store does (an
 * orchestrator restarts a process that fails it, which would not help a store outage). For
 * whether the instance should get traffic, use {@link readinessHandler}.
 */
export function healthHandler(): (request: Request) => Response {
  return () =>
    withSecurityHeaders(
      new Response('ok', {
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      }),
    );
}

/**
 * Readiness, `GET /readyz`: `200 {"ready":true,"store":{name,shared,up,latencyMs}}` when the
 * guard's store answered a probe and the guard is not shutting down; `503` with `reason`
 * (`store unavailable`, `shutting down`) and `Retry-After` otherwise, within the store's command
 * timeout. Each probe sets `wsguard_store_up` and `wsguard_store_latency_seconds` in `/metrics`.
 * It names no key, secret or address: safe for a load balancer, still best kept internal.
 */
export function readinessHandler(guard: Guard): (request: Request) => Promise<Response> {
  return async () => {
    const health = await guard.health();
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (!health.ready) headers['retry-after'] = '5';
    return json(health, health.ready ? 200 : 503, headers);
  };
}
