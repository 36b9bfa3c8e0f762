/**
 * The options of `createGuard`, with their defaults. Every default is documented with its reason
 * in docs/architecture.md ("Defaults").
 *
 * @module
 */

import type { JwtOptions } from '../auth/jwt-options.ts';
import type { PermissionOptions } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import type { TicketOptions } from '../auth/tickets.ts';
import type { RejectMode, RejectReason } from '../core/codes.ts';
import type { RateRule } from '../core/rate-limit.ts';
import type { StandardSchemaV1 } from '../core/standard-schema.ts';
import type { MessageLimits } from '../frames/parse.ts';
import type { CredentialSources } from '../handshake/credentials.ts';
import type { OriginPolicy } from '../handshake/origin.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { ErrorStage } from '../observability/report.ts';
import type { PenaltyOptions } from '../state/penalties.ts';
import type { Store } from '../store/contract.ts';

/** Rate limits and connection caps. `false` turns one off. */
export interface LimitOptions {
  /**
   * Connection attempts per client IP (page reloads behind a NAT need headroom).
   * @default { limit: 10, windowMs: 10000, burst: 20 }
   */
  readonly connectRate?: RateRule | false;
  /**
   * Messages per connection.
   * @default { limit: 100, windowMs: 1000, burst: 200 }
   */
  readonly messageRate?: RateRule | false;
  /**
   * Messages per user across that user's connections on this instance.
   * @default { limit: 200, windowMs: 1000, burst: 400 }
   */
  readonly userMessageRate?: RateRule | false;
  /**
   * Open connections per client IP.
   * @default 20
   */
  readonly maxConnectionsPerIp?: number | false;
  /**
   * Open connections per user.
   * @default 10
   */
  readonly maxConnectionsPerUser?: number | false;
  /**
   * Handshakes this instance decides at once (from the origin check to accept or refuse, store
   * steps and credential checks included). Past it a handshake is refused at once with 503
   * `overloaded` and a `Retry-After` of 1 to `retryAfterUnavailableSec` seconds, drawn per
   * handshake, before any store step or credential check: no ticket spent, nothing scored.
   * This is what keeps a reconnect storm (every client of a fleet dropped at once) from starving
   * the event loop until every store call times out; the refused clients back off and come back
   * spread. Size it to what one instance decides within the store's command timeout.
   * @default 64
   */
  readonly maxPendingHandshakes?: number | false;
  /**
   * When a user is at the cap, close their oldest connection (4008) instead of refusing the new one.
   * @default false
   */
  readonly singleSession?: boolean;
  /**
   * Lease lifetime in ms; leases are renewed at a third of it, so a dead instance's connections
   * are released within this time.
   * @default 30000
   */
  readonly leaseTtlMs?: number;
  /**
   * Rate-limit refusals before a connection is closed with 4029 (earlier ones are answered with
   * an error frame and the message dropped). Refusals are counted within 10 s, not "in a row": a
   * client that slips one allowed frame between refusals is still closed.
   * @default 10
   */
  readonly closeAfterRateHits?: number;
  /**
   * When the store cannot answer: `'fail-closed'` refuses every handshake (503); `'local'` lets
   * the connection rate, penalty scores, bans and ban lookups fall back to this instance's own
   * state (per-instance limits and bans during the outage). Tickets and caps always fail closed.
   * @default 'fail-closed'
   */
  readonly onStoreError?: 'fail-closed' | 'local';
}

/** Message checks beyond the size and shape limits. */
export interface MessageOptions extends MessageLimits {
  /**
   * Parse frames as JSON and apply the shape checks. Turn off for binary protocols (size and rate
   * limits still apply).
   * @default true
   */
  readonly json?: boolean;
  /**
   * Exact text frames delivered as they are, before JSON parsing (still size- and rate-limited),
   * e.g. tRPC's keep-alive `['PING', 'PONG']`.
   * @default []
   */
  readonly passthrough?: readonly string[];
  /** Schema every message must satisfy (zod 4 or any Standard Schema). */
  readonly schema?: StandardSchemaV1;
  /** The permission a message needs, if any (e.g. `chat.send` for `{type: 'chat.send'}`). */
  readonly permission?: (message: unknown) => string | undefined;
  /** The resource a message touches, checked with `permissions.canAccess`. */
  readonly resource?: (message: unknown) => string | undefined;
  /**
   * Invalid messages (malformed, failing the schema, forbidden) before the connection is closed
   * with 1008; earlier ones get an error reply.
   * @default 5
   */
  readonly maxInvalid?: number;
}

/** Options for `createGuard`. Everything but the origin list and an authentication method has a safe default. */
export interface GuardOptions {
  /**
   * Allowed browser origins (`https://app.example.com`, `https://*.example.com`). Required: an
   * empty or missing list is a start-up error, never "allow all".
   */
  readonly origins?: readonly string[];
  /** Handshakes without `Origin` (non-browser clients). @default 'allow' */
  readonly missingOrigin?: OriginPolicy;
  /** `Origin: null` (sandboxed iframes, `file:`). @default 'deny' */
  readonly nullOrigin?: OriginPolicy;
  /** Accept every origin; for public, unauthenticated sockets only. @default false */
  readonly dangerouslyAllowAnyOrigin?: boolean;
  /** JWT verification (jose). */
  readonly jwt?: JwtOptions;
  /** One-time tickets; `true` for the defaults. */
  readonly tickets?: TicketOptions | boolean;
  /** Which credential sources are read. @default { header: true, ticket: true when tickets are on } */
  readonly credentials?: CredentialSources;
  /** Accept connections without credentials (public sockets). @default false */
  readonly allowAnonymous?: boolean;
  /**
   * Bind a path parameter to the principal, e.g. `/ws/:sub`: the connection is refused (4003)
   * unless the segment equals the user id.
   */
  readonly pathBinding?: string;
  /**
   * The IPv6 prefix length that counts as one client for every per-IP defence (connection rate,
   * caps, penalty scores, bans). A host usually gets a whole /64 and can rotate addresses inside it
   * at will, so keying on the full /128 lets one client pass as millions. IPv4 addresses (and
   * IPv4-mapped IPv6) are keyed whole. Audit events and `connection.ip` keep the full address.
   * @default 64
   */
  readonly ipv6Prefix?: number;
  /** Atomic state. @default createMemoryStore() */
  readonly store?: Store;
  /**
   * Refuse a store that is not shared across processes: set when running several instances.
   * @default false
   */
  readonly requireSharedStore?: boolean;
  /** Rate limits and caps. */
  readonly limits?: LimitOptions;
  /** Message checks. */
  readonly messages?: MessageOptions;
  /** Roles, permissions, and the per-resource hook. */
  readonly permissions?: PermissionOptions;
  /** Violation scores and temporary bans; `false` turns them off. */
  readonly penalties?: PenaltyOptions | false;
  /** Audit sink. @default 'console' */
  readonly audit?: AuditSink;
  /**
   * Decide and audit limits, caps and bans, but do not enforce them: for tuning limits on live
   * traffic. Origins and credentials are always enforced.
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Refuse plain `ws://` (production). Adapters report TLS, or a trusted proxy's
   * `X-Forwarded-Proto`/`Forwarded: proto=https`.
   * @default false
   */
  readonly requireSecure?: boolean;
  /** Override how a rejection is delivered (HTTP status at upgrade, or accept-then-close). */
  readonly rejectModes?: Partial<Record<RejectReason, RejectMode>>;
  /**
   * `Retry-After` hint in seconds for 503 (store unavailable).
   * @default 5
   */
  readonly retryAfterUnavailableSec?: number;
  /**
   * At shutdown, each connection's 1001 close carries `retry in <ms>`, drawn per connection from
   * 0 to this many ms: the guarded client waits that long before it reconnects, so a fleet
   * restarted all at once is re-admitted at the pace it can take (window ≈ connections ÷ the
   * handshakes per second the fleet serves). 0: every client reconnects at once, right for a
   * rolling restart, where the other instances take them. `shutdown(reason, { reconnectWindowMs })`
   * overrides it for one shutdown.
   * @default 0
   */
  readonly reconnectWindowMs?: number;
  /** Called with background failures; never throws into the runtime. @default console.error */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
  /** Map a redeemed or verified principal (e.g. load roles from a database). */
  readonly principal?: (principal: Principal) => Principal | Promise<Principal>;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/** Default limits, one place. */
export const DEFAULTS: {
  readonly connectRate: RateRule;
  readonly messageRate: RateRule;
  readonly userMessageRate: RateRule;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerUser: number;
  readonly maxPendingHandshakes: number;
  readonly leaseTtlMs: number;
  readonly closeAfterRateHits: number;
  readonly ipv6Prefix: number;
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxEntries: number;
  readonly maxIssues: number;
  readonly maxInvalid: number;
} = {
  connectRate: { limit: 10, windowMs: 10_000, burst: 20 },
  messageRate: { limit: 100, windowMs: 1000, burst: 200 },
  userMessageRate: { limit: 200, windowMs: 1000, burst: 400 },
  maxConnectionsPerIp: 20,
  maxConnectionsPerUser: 10,
  maxPendingHandshakes: 64,
  leaseTtlMs: 30_000,
  closeAfterRateHits: 10,
  ipv6Prefix: 64,
  maxBytes: 64 * 1024,
  maxDepth: 32,
  maxEntries: 1000,
  maxIssues: 10,
  maxInvalid: 5,
};
