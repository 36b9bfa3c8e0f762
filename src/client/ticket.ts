/**
 * Fetching a one-time ticket, with the refusal kept readable: a browser cannot read the status of
 * a refused WebSocket handshake, but it can read the ticket endpoint's answer, so that is where a
 * banned client learns that it is banned and until when.
 *
 * @module
 */

/** Why no ticket was had. `fetchTicket` throws it; a `getTicket` of the app's own may too. */
export class TicketError extends Error {
  /** The HTTP status; 0 when there was no answer (network, timeout, unusable URL). */
  readonly status: number;
  /** The server's code (`BANNED`…), or `HTTP_<status>`, `NETWORK`, `BAD_URL`, `NO_TICKET`. */
  readonly code: string;
  /** A ban's end, in ms since the epoch: now + Retry-After where given, else the body's `until`. */
  readonly until: number | undefined;
  /** The server's `Retry-After`, in ms. */
  readonly retryAfterMs: number | undefined;

  /** A refusal with its status, code, ban end and Retry-After (ms), and the underlying error. */
  constructor(
    message: string,
    status: number,
    code: string,
    until?: number,
    retryAfterMs?: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TicketError';
    this.status = status;
    this.code = code;
    this.until = until;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The page's address, where there is one (Deno throws on `location` without `--location`). */
function pageHref(): string | undefined {
  try {
    return globalThis.location?.href;
  } catch {
    return undefined;
  }
}

/** `Retry-After` (seconds or an HTTP date) in ms. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  if (/^\d{1,9}$/.test(header)) return Number(header) * 1000;
  const t = Date.parse(header);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/**
 * `POST` a ticket endpoint (wsguard's `ticketHandler`) and return the `ticket`. Any failure throws
 * a {@link TicketError}: a 403 with `{"error":{"code":"BANNED","until":…}}` carries the ban's end,
 * which the guarded client obeys like a 4030; other refusals carry the status and `Retry-After`.
 * `init` is passed to `fetch` (headers, credentials, a `signal`; the default times out after 10 s).
 *
 * @example
 * ```ts
 * getTicket: () => fetchTicket('/ws/ticket', { headers: { authorization: `Bearer ${token}` } }),
 * ```
 */
export async function fetchTicket(input: string | URL, init: RequestInit = {}): Promise<string> {
  let target: URL;
  try {
    target = new URL(input, pageHref());
  } catch (error) {
    // A relative URL outside a browser: say so, rather than a bare TypeError from fetch.
    throw new TicketError(
      `ticket URL ${String(input)} cannot be resolved: give an absolute URL outside a browser`,
      0,
      'BAD_URL',
      undefined,
      undefined,
      error,
    );
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(target, {
      method: 'POST',
      signal: AbortSignal.timeout?.(10_000),
      ...init,
    });
    text = await res.text();
  } catch (error) {
    throw new TicketError(
      `ticket fetch failed: ${(error as Error)?.message ?? error}`,
      0,
      'NETWORK',
      undefined,
      undefined,
      error,
    );
  }
  let body: { ticket?: unknown; error?: unknown } | undefined;
  try {
    // A ticket answer is small; a huge body is not one, and is not parsed.
    body = text.length <= 65_536 ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok && typeof body?.ticket === 'string') return body.ticket;
  const now = Date.now();
  const detail = (typeof body?.error === 'object' && body.error) || {};
  const { code, message, until, retryAfterSec } = detail as {
    code?: unknown;
    message?: unknown;
    until?: unknown;
    retryAfterSec?: unknown;
  };
  const retry =
    retryAfterMs(res.headers.get('retry-after'), now) ??
    (typeof retryAfterSec === 'number' && retryAfterSec >= 0 ? retryAfterSec * 1000 : undefined);
  const banned = !res.ok && code === 'BANNED';
  // The end as a delay from now where the server gave one: immune to this machine's clock skew
  // (an absolute `until` read on a clock an hour behind would keep the client out an hour late).
  const end = !banned ? Number.NaN : retry !== undefined ? now + retry : Date.parse(String(until));
  throw new TicketError(
    typeof message === 'string'
      ? message
      : typeof body?.error === 'string'
        ? body.error
        : `ticket refused: HTTP ${res.status}`,
    res.status,
    res.ok ? 'NO_TICKET' : typeof code === 'string' ? code : `HTTP_${res.status}`,
    Number.isFinite(end) ? end : undefined,
    retry,
  );
}
