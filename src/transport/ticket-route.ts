/**
 * The ticket route, `POST /ws/ticket`: a one-time ticket for a bearer of a valid token, so a
 * browser (which cannot set headers on a WebSocket handshake) never puts its token in a URL. Shed
 * past `maxPending` requests in progress, with a `Retry-After` spread over the overload.
 *
 * @module
 */
import { BannedError } from '../core/errors.ts';
import { LoadShed } from '../core/load-shed.ts';
import type { RateRule } from '../core/rate-limit.ts';
import type { Guard } from '../guard/types.ts';
import { readBody } from './body.ts';
import { authenticate, bannedResponse, bodyRefused, json, withSecurityHeaders } from './http.ts';

/** Options for {@link ticketHandler}. */
export interface TicketHandlerOptions {
  /**
   * Client IP of the request (for IP-bound tickets, and to tell a banned address so); adapters
   * know it. An `ip` passed to the handler itself takes precedence.
   */
  readonly ip?: (request: Request) => string | undefined;
  /**
   * The ticket request carries no body; a small one (a client posting `{}`) is read and ignored,
   * a larger one is refused with 413 before the token is looked at (a `Content-Length` over it
   * unread, a chunked one at the limit).
   * @default 1024
   */
  readonly maxBodyBytes?: number;
  /**
   * How long that body may take to arrive before 408.
   * @default 10000
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Tickets one user may take: each one sits in the shared store until it is redeemed or ends, so
   * an account minting them in a loop would otherwise fill the store (and, in memory, push out
   * others' tickets). Over it: 429 with `Retry-After`. `false` turns it off.
   * @default { limit: 60, windowMs: 60000, burst: 20 }
   */
  readonly rate?: RateRule | false;
  /**
   * Ticket requests handled at once (each waits on the store). Past it: 503 at once, before the
   * token is read, with a `Retry-After` drawn per response over a window that grows with the
   * overload (as for handshakes, `limits.maxPendingHandshakes`), which `wsguard/client` waits:
   * the ticket request is where a reconnect storm of browser clients can be told when to come
   * back, since a refused WebSocket handshake's status is hidden from the page. `false`: no cap.
   * @default 64
   */
  readonly maxPending?: number | false;
}

/** The default {@link TicketHandlerOptions.rate}: a reconnecting page needs one ticket a try. */
const TICKET_RATE: RateRule = { limit: 60, windowMs: 60_000, burst: 20 };

/**
 * `POST /ws/ticket` with `Authorization: Bearer <jwt>` → `{ ticket, expiresIn }`. Refuses a
 * foreign `Origin` (403), a missing or bad token (401), an expired one (401), a banned address or
 * user (403 with the ban's end, see {@link bannedResponse}), other methods (405), a body over
 * `maxBodyBytes` (413); answers a same-origin preflight only. Pass the client's `ip` (the
 * adapter's resolved address) so a banned address is told so here rather than by a refused
 * handshake it cannot read.
 */
export function ticketHandler(
  guard: Guard,
  options: TicketHandlerOptions = {},
): (request: Request, ip?: string) => Promise<Response> {
  const bodyLimits = {
    maxBytes: options.maxBodyBytes ?? 1024,
    ...(options.bodyTimeoutMs !== undefined ? { timeoutMs: options.bodyTimeoutMs } : {}),
  };
  const rate = options.rate === false ? undefined : (options.rate ?? TICKET_RATE);
  // Unbounded (a ticket request is refused only past the cap) when `maxPending` is false.
  const shed = new LoadShed(options.maxPending === false ? Infinity : (options.maxPending ?? 64));
  // Store failures and sheds alike: each told its own delay, so the refused come back spread.
  const unavailable = (error: string): Response =>
    json({ error }, 503, { 'retry-after': String(shed.retryAfterSec()) });
  const issue = ticketIssue(guard, rate, unavailable);
  return async (request, clientIp) => {
    const origin = request.headers.get('origin');
    if (!guard.checkOrigin(origin)) return json({ error: 'origin not allowed' }, 403);
    if (request.method === 'OPTIONS') {
      // Allowed origins only reach here; foreign ones were refused above, so no CORS grant leaks.
      return withSecurityHeaders(
        new Response(null, {
          status: 204,
          headers: {
            ...(origin ? { 'access-control-allow-origin': origin, vary: 'origin' } : {}),
            'access-control-allow-methods': 'POST',
            'access-control-allow-headers': 'authorization',
            'access-control-max-age': '600',
          },
        }),
      );
    }
    if (request.method !== 'POST')
      return json({ error: 'method not allowed' }, 405, { allow: 'POST, OPTIONS' });
    const cors: Record<string, string> = origin
      ? { 'access-control-allow-origin': origin, vary: 'origin' }
      : {};
    // Read (and drop) the body within its bound before anything else: an unread body is left to
    // the runtime, which may read all of it; a body someone else already read is theirs to bound.
    if (!request.bodyUsed) {
      const body = await readBody(request, bodyLimits);
      if (!body.ok) return bodyRefused(body, cors);
    }
    const ip = clientIp ?? options.ip?.(request);
    // Counted once the body is in: a client trickling its body must not hold a place.
    if (!shed.enter()) return unavailable('server busy');
    try {
      return await issue(request, ip, origin, cors);
    } finally {
      shed.leave();
    }
  };
}

/** The store's part of a ticket request: the bans, the token, the rate, the ticket. */
function ticketIssue(
  guard: Guard,
  rate: RateRule | undefined,
  unavailable: (error: string) => Response,
) {
  return async (
    request: Request,
    ip: string | undefined,
    origin: string | null,
    cors: Record<string, string>,
  ): Promise<Response> => {
    try {
      // A banned address learns it before its token is even read, and is told until when.
      const ipBan = ip !== undefined ? await guard.bannedUntil('ip', ip) : undefined;
      if (ipBan !== undefined) return bannedResponse(ipBan, cors);
    } catch {
      return unavailable('service unavailable');
    }
    const principal = await authenticate(guard, request);
    if (principal instanceof Response) return principal;
    try {
      const userBan = await guard.bannedUntil('user', principal.sub);
      if (userBan !== undefined) return bannedResponse(userBan, cors);
      if (rate) {
        const r = await guard.store.limit(`rate:ticket:${principal.sub}`, rate);
        if (!r.allowed)
          return json({ error: 'too many tickets' }, 429, {
            'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))),
            ...cors,
          });
      }
      const issued = await guard.issueTicket(principal, {
        origin,
        ...(ip !== undefined ? { ip } : {}),
      });
      return json({ ticket: issued.ticket, expiresIn: issued.expiresIn }, 200, cors);
    } catch (error) {
      if (error instanceof BannedError) return bannedResponse(error.until, cors);
      return unavailable('service unavailable');
    }
  };
}
