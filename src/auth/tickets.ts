/**
 * One-time tickets: a short-lived, single-use credential that a page fetches over authenticated
 * HTTP and puts in the WebSocket URL, so that no long-lived token travels in a query string.
 *
 * - 256 bits of randomness; a guess costs one store lookup and succeeds with probability 2^-256.
 * - Stored under its SHA-256, so a dump of the store yields no usable ticket.
 * - Redeemed with the store's atomic `take`: of any number of racing redemptions, one wins.
 * - TTL 10 s by default, 30 s at most, and never past the source token's expiry.
 *
 * @module
 */
import { base64url, sha256HexSync, sha256HexWeb } from '../core/encoding.ts';
import { CredentialError, GuardError } from '../core/errors.ts';
import type { Store } from '../store/contract.ts';
import type { Principal } from './principal.ts';

/** Ticket settings. */
export interface TicketOptions {
  /**
   * Lifetime in ms.
   * @default 10000
   */
  readonly ttlMs?: number;
  /**
   * Bind each ticket to the client IP it was issued to.
   * @default false (mobile clients change address between the HTTP call and the socket)
   */
  readonly bindIp?: boolean;
  /**
   * Bind each ticket to the `Origin` of the request that fetched it.
   * @default true
   */
  readonly bindOrigin?: boolean;
}

/** Per-issue options. */
export interface IssueTicketOptions {
  /** Client IP of the issuing request (for IP binding). */
  readonly ip?: string;
  /** Origin of the issuing request (for origin binding). */
  readonly origin?: string | null;
  /** Shorter lifetime for this ticket. */
  readonly ttlMs?: number;
}

/** An issued ticket. `ticket` is secret: hand it to the client and nowhere else. */
export interface IssuedTicket {
  /** The ticket, 43 base64url characters. */
  readonly ticket: string;
  /** Seconds until it expires (what the HTTP endpoint returns). */
  readonly expiresIn: number;
  /** Expiry as ms since epoch. */
  readonly expiresAt: number;
}

/** Where a ticket is redeemed from, for binding checks. */
export interface RedeemContext {
  /** Client IP of the handshake. */
  readonly ip?: string;
  /** `Origin` of the handshake. */
  readonly origin?: string | null;
}

/** The ticket service. */
export interface Tickets {
  /** Issue a ticket for `principal`. Throws when the principal's credential has already expired. */
  issue(principal: Principal, options?: IssueTicketOptions): Promise<IssuedTicket>;
  /** Redeem a ticket exactly once; throws {@link CredentialError} (expired: 4002, otherwise 4001). */
  redeem(ticket: string, context?: RedeemContext): Promise<Principal>;
}

/** Upper bound on a ticket's life: long enough for a slow handshake, short enough to be useless if leaked. */
export const MAX_TICKET_TTL_MS = 30_000;
/** Default ticket life. */
export const DEFAULT_TICKET_TTL_MS = 10_000;
// Kept past expiry so that a late ticket is told "expired" (refresh) rather than "invalid" (stop).
const GRACE_MS = 60_000;
const TICKET_RE = /^[A-Za-z0-9_-]{43}$/;

interface StoredTicket {
  p: Principal;
  exp: number;
  ip?: string;
  origin?: string | null;
}

/** Check ticket options; returns problems for the doctor. */
export function validateTicketOptions(options: TicketOptions): string[] {
  const ttl = options.ttlMs ?? DEFAULT_TICKET_TTL_MS;
  if (!(ttl > 0 && ttl <= MAX_TICKET_TTL_MS)) {
    return [
      `tickets.ttlMs: ${ttl} is outside 1..${MAX_TICKET_TTL_MS} ms; a ticket is a short-lived, one-time credential`,
    ];
  }
  return [];
}

/**
 * Create the ticket service over a store.
 *
 * @example
 * ```ts
 * const { ticket } = await guard.tickets.issue(principal, { origin: request.headers.get('origin') });
 * // client: new WebSocket(`wss://app.example.com/ws?ticket=${ticket}`)
 * ```
 */
export function createTickets(
  store: Store,
  options: TicketOptions = {},
  now: () => number = Date.now,
): Tickets {
  const problems = validateTicketOptions(options);
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  const defaultTtl = options.ttlMs ?? DEFAULT_TICKET_TTL_MS;
  const bindOrigin = options.bindOrigin ?? true;
  const bindIp = options.bindIp ?? false;
  // The store key: synchronous where the runtime hashes synchronously (one promise less per
  // redemption), Web Crypto otherwise; both give the same hex digest.
  const key = (ticket: string): string | Promise<string> => {
    const hex = sha256HexSync(ticket);
    return hex !== undefined ? `ticket:${hex}` : sha256HexWeb(ticket).then((h) => `ticket:${h}`);
  };

  return {
    async issue(principal: Principal, opts: IssueTicketOptions = {}): Promise<IssuedTicket> {
      const t = now();
      let ttl = Math.min(opts.ttlMs ?? defaultTtl, defaultTtl, MAX_TICKET_TTL_MS);
      if (principal.expiresAt !== undefined) ttl = Math.min(ttl, principal.expiresAt - t);
      if (!(ttl >= 1))
        throw new GuardError('ERR_WSGUARD_TICKET', 'credential expired; cannot issue a ticket');
      const ticket = base64url(crypto.getRandomValues(new Uint8Array(32)));
      const exp = t + ttl;
      const stored: StoredTicket = { p: principal, exp };
      if (bindIp) {
        // A binding that silently does nothing is worse than none: say so.
        if (opts.ip === undefined)
          throw new TypeError('tickets.bindIp is on: pass the client ip to issueTicket');
        stored.ip = opts.ip;
      }
      if (bindOrigin && opts.origin !== undefined) stored.origin = opts.origin;
      await store.set(await key(ticket), JSON.stringify(stored), ttl + GRACE_MS);
      return { ticket, expiresIn: Math.max(1, Math.floor(ttl / 1000)), expiresAt: exp };
    },

    async redeem(ticket: string, context: RedeemContext = {}): Promise<Principal> {
      // Malformed tickets cost no store round trip.
      if (!TICKET_RE.test(ticket)) throw new CredentialError('invalid ticket');
      const k = key(ticket);
      const storeKey = typeof k === 'string' ? k : await k;
      let raw: string | undefined;
      let expired: boolean | undefined;
      if (store.takeWithTtl) {
        // Expiry judged by the store's clock: the key lives GRACE_MS past the ticket's end, so a
        // ticket with less than that left is expired. An instance whose own clock runs behind
        // (45 s, say) would otherwise accept a 1-second ticket long after it ended.
        const taken = await store.takeWithTtl(storeKey);
        raw = taken?.value;
        // No TTL by the store's clock (PTTL -1): the instance's clock judges `exp` below.
        if (taken && Number.isFinite(taken.ttlMs)) expired = taken.ttlMs <= GRACE_MS;
      } else raw = await store.take(storeKey);
      if (raw === undefined) throw new CredentialError('invalid ticket');
      let stored: StoredTicket;
      try {
        stored = JSON.parse(raw) as StoredTicket;
      } catch {
        throw new CredentialError('invalid ticket');
      }
      // A store that cannot tell the time left: this instance's clock judges.
      if (expired ?? now() >= stored.exp) throw new CredentialError('ticket expired', true);
      if (stored.ip !== undefined && stored.ip !== context.ip)
        throw new CredentialError('ticket bound to another address');
      if (stored.origin !== undefined && stored.origin !== (context.origin ?? null)) {
        throw new CredentialError('ticket bound to another origin');
      }
      return stored.p;
    },
  };
}
