/**
 * The ticket probes (a replayed ticket, a ticket's stated lifetime), run when `--ticket-url` is
 * given. A fresh one-time ticket must open one socket and be refused the second time, and the
 * lifetime the ticket answer states must be short. The
 * lifetime is read, never waited out: an audit does not sleep a minute per probe.
 *
 * @module
 */
import { describe, type Outcome, stayedOpen } from './attempt.ts';
import { BannedError, banOf } from './ban.ts';
import { httpCall } from './http-request.ts';
import { fail, type Probe, type ProbeContext, pass, skip, withParam } from './probe.ts';

/** What the ticket probes are given. */
export interface TicketInputs {
  /** Where a ticket is had: `POST` (with `--token` as `Authorization: Bearer`). */
  readonly ticketUrl?: string;
  /** The longest lifetime a ticket may state, seconds. */
  readonly ticketMaxAgeSec: number;
  /** Bound on each HTTP request, ms. */
  readonly timeoutMs: number;
  /** The audit's current source address (a ticket may be bound to the address that took it). */
  readonly source: () => string | undefined;
}

/** A ticket the server issued, with the lifetime it stated (seconds), if it stated one. */
interface Issued {
  readonly ticket: string;
  readonly lifetimeSec?: number;
  readonly said: string;
}

/** The stated lifetime in seconds from `expiresIn`, `expires_in`, `ttl`, `ttlMs` or `expiresAt`. */
export function statedLifetime(
  o: Record<string, unknown>,
  now: number = Date.now(),
): number | undefined {
  const n = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  const secs = n(o.expiresIn) ?? n(o.expires_in) ?? n(o.ttl);
  if (secs !== undefined) return secs;
  if (n(o.ttlMs) !== undefined) return n(o.ttlMs)! / 1000;
  const at = o.expiresAt ?? o.expires_at;
  // A number below 1e12 is seconds since the epoch (JWT style), above it milliseconds.
  const num = n(at);
  const ms =
    typeof at === 'string'
      ? Date.parse(at)
      : num !== undefined
        ? num < 1e12
          ? num * 1000
          : num
        : undefined;
  return ms !== undefined && Number.isFinite(ms) ? Math.round((ms - now) / 1000) : undefined;
}

/** Take one ticket; a string says why none was had. Throws `BannedError` on a ban. */
async function takeTicket(ctx: ProbeContext, inputs: TicketInputs): Promise<Issued | string> {
  const from = inputs.source();
  const a = await httpCall({
    url: inputs.ticketUrl!,
    method: 'POST',
    headers: {
      origin: ctx.origin,
      ...(ctx.token !== undefined ? { authorization: `Bearer ${ctx.token}` } : {}),
    },
    timeoutMs: inputs.timeoutMs,
    ...(from !== undefined ? { localAddress: from } : {}),
  });
  if ('error' in a) return `the ticket URL gave no answer: ${a.error}`;
  const retryAfter = a.headers['retry-after'];
  const seen: Outcome = {
    opened: false,
    frames: 0,
    replies: [],
    ms: 0,
    status: a.status,
    ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    ...(a.body ? { body: a.body.slice(0, 2000) } : {}),
  };
  ctx.log.push(seen); // the leakage probe reads the body too
  const ban = banOf(seen);
  if (ban) throw new BannedError(ban);
  if (a.status !== 200 && a.status !== 201)
    return `the ticket URL answered HTTP ${a.status}${ctx.token ? '' : ' (give --token: it is sent as Bearer)'}`;
  let body: unknown;
  try {
    body = JSON.parse(a.body);
  } catch {
    return 'the ticket URL did not answer JSON';
  }
  const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (typeof o.ticket !== 'string' || o.ticket === '')
    return 'the ticket URL answered JSON without a `ticket`';
  const lifetimeSec = statedLifetime(o);
  return {
    ticket: o.ticket,
    ...(lifetimeSec !== undefined ? { lifetimeSec } : {}),
    said: a.body.slice(0, 200).replaceAll(o.ticket, '<ticket>'),
  };
}

const NEEDS_URL = 'needs --ticket-url (the POST route that issues tickets, e.g. /ws/ticket)';

const replay = (inputs: TicketInputs): Probe => ({
  id: 'credentials.ticket-replay',
  check: 'ticket replay (one fresh ticket redeemed twice)',
  category: 'credentials',
  severity: 'high',
  expected: 'the first redemption opens; the second: HTTP 401 or close 4001',
  fix: 'Make tickets one-time: take them from the store atomically on redemption (wsguard: tickets).',
  run: async (ctx) => {
    if (inputs.ticketUrl === undefined) return skip(NEEDS_URL);
    const issued = await takeTicket(ctx, inputs);
    if (typeof issued === 'string') return skip(issued);
    const redeem = (): Promise<Outcome> =>
      ctx.attempt({
        url: withParam(ctx.url, 'ticket', issued.ticket),
        origin: ctx.origin,
        waitMs: ctx.waitMs,
        // Open and still open a moment later: a refusal after the open (4001) shows by then.
        settleAfterOpenMs: 300,
      });
    const first = await redeem();
    if (!stayedOpen(first))
      return skip(
        `a fresh ticket did not open a socket (${describe(first)}): the replay cannot be judged`,
      );
    const second = await redeem();
    if (stayedOpen(second))
      return fail(`the same ticket opened a second socket: ${describe(second)}`);
    return pass(`first redemption opened; replay refused: ${describe(second)}`);
  },
});

const lifetime = (inputs: TicketInputs): Probe => ({
  id: 'credentials.ticket-lifetime',
  check: `ticket lifetime (stated, at most ${inputs.ticketMaxAgeSec} s)`,
  category: 'credentials',
  severity: 'medium',
  expected: `a ticket that lives ${inputs.ticketMaxAgeSec} s or less (wsguard: 10 s, at most 30 s)`,
  fix: 'Issue tickets that expire within seconds: they only bridge a fetch and a handshake (tickets.ttlMs).',
  run: async (ctx) => {
    if (inputs.ticketUrl === undefined) return skip(NEEDS_URL);
    const issued = await takeTicket(ctx, inputs);
    if (typeof issued === 'string') return skip(issued);
    if (issued.lifetimeSec === undefined)
      return skip('not measured: the ticket answer states no expiresIn, expiresAt or ttl');
    if (issued.lifetimeSec > inputs.ticketMaxAgeSec)
      return fail(
        `a ticket lives ${issued.lifetimeSec} s (over ${inputs.ticketMaxAgeSec} s)`,
        issued.said,
      );
    return pass(`a ticket lives ${issued.lifetimeSec} s (stated)`);
  },
});

/** The ticket probes, in order. */
export function ticketProbes(inputs: TicketInputs): Probe[] {
  return [replay(inputs), lifetime(inputs)];
}
