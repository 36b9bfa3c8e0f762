/**
 * The guard's state for one connection: who it is, where from, and its counters. Adapters keep it
 * in the peer's context; the app reads it, the guard writes it.
 *
 * @module
 */
import type { Principal } from '../auth/principal.ts';

/** A lease a connection holds: its set's key and the lease's id. */
export type Lease = readonly [key: string, id: string];

/**
 * The leases of a connection that holds none, one array for all of them. A connection's `leases`
 * is replaced by an array of exactly its length whenever it changes: a lease pushed onto an empty
 * array grew its backing store to 17 slots (~150 B a connection for one or two leases).
 */
export const NO_LEASES: readonly Lease[] = Object.freeze([]);

/** A live connection as the guard sees it. */
export interface GuardConnection {
  /** Random id, unique per connection. */
  readonly id: string;
  /** Client IP (after trusted-proxy resolution by the adapter). */
  readonly ip: string;
  /** `Origin` header, or `null` when absent. */
  readonly origin: string | null;
  /** `User-Agent` header, truncated to 256 characters. */
  readonly userAgent: string | undefined;
  /** Path and query of the handshake, secrets masked. */
  readonly url: string;
  /** The subprotocol to echo, if the client offered one that is not a credential. */
  readonly protocol: string | undefined;
  /** When the socket was accepted (ms since epoch). */
  readonly connectedAt: number;
  /** The principal; `undefined` while first-message authentication is pending. */
  readonly principal: Principal | undefined;
  /** When the connection must end (the credential's expiry), ms since epoch. */
  readonly expiresAt: number | undefined;
  /** For first-message auth: the deadline for the credential message (ms since epoch). */
  readonly authDeadline: number | undefined;
  /** Last inbound message (ms since epoch). */
  readonly lastActivity: number;
  /** Whether the guard has released this connection. */
  readonly closed: boolean;
}

/**
 * How the guard closes a connection it does not hold the socket of (eviction by single-session
 * mode, shutdown). Adapters set it when the socket opens.
 */
export type Terminate = (code: number, reason: string) => void;

/**
 * Where a connection is in its life, in order; it only moves forward (but `authenticating`, which
 * falls back to `pending` when a credential message is refused and the close is under way):
 * - `pending`: the handshake is being decided, or it was accepted without an identity and the
 *   credential message is awaited (first-message authentication);
 * - `authenticating`: the credential message is being verified: other frames are refused;
 * - `live`: it has its identity (or is anonymous by choice), frames are decided;
 * - `closing`: the guard decided to close it (a close decision, a ban): nothing more is delivered;
 * - `closed`: released (leases given back, counted, audited). Every await re-checks for it.
 */
export type ConnectionPhase = 'pending' | 'authenticating' | 'live' | 'closing' | 'closed';

/** The guard's mutable view; not exported from the package. */
export interface ConnectionState extends GuardConnection {
  /** See {@link ConnectionPhase}; `closed` is `phase === 'closed'`, kept as a field for readers. */
  phase: ConnectionPhase;
  principal: Principal | undefined;
  expiresAt: number | undefined;
  authDeadline: number | undefined;
  lastActivity: number;
  closed: boolean;
  /** Per-connection limiter state (GCRA theoretical arrival time), made on the first frame. */
  readonly rate: { tat: number };
  /** Rate-limit refusals so far. */
  rateHits: number;
  /** The times of the last `closeAfterRateHits` refusals (a ring), from the first refusal on. */
  rateHitTimes: number[] | undefined;
  /** The key every per-IP defence uses for this client (the IPv6 prefix, or the IPv4 address). */
  ipKey: string;
  /** The handshake's path, for path binding at a later authentication or refresh. */
  path: string;
  /** Set when a ban covering this connection was seen: its end. The connection is closing. */
  bannedUntil: number | undefined;
  /** The guard's ban sequence when the handshake began: later bans refuse it at accept. */
  banSeen: number;
  /** Invalid messages so far. */
  invalid: number;
  /** Leases held, in the order taken. Replaced, never changed in place (it may be {@link NO_LEASES}). */
  leases: readonly Lease[];
  /** Set by the adapter once the socket is open. */
  terminate: Terminate | undefined;
  /**
   * Its place in the guard's deadline heap (`state/deadlines.ts`), which closes it at its
   * credential's expiry (4002) or auth deadline (4001); -1 when it has none armed.
   */
  deadlineSlot: number;
}

/** What the handshake knows of the client of a new connection. */
export type ConnectionInit = Pick<
  ConnectionState,
  'ip' | 'origin' | 'userAgent' | 'url' | 'protocol'
>;

/**
 * A connection's record. Every field is set in the constructor, in one order, so every
 * connection has one shape (the message path reads them per frame). The limiter state is made
 * on the first frame that reads it: an idle connection never needs one (~50 B each).
 */
class ConnectionRecord implements ConnectionState {
  readonly ip: string;
  readonly origin: string | null;
  readonly userAgent: string | undefined;
  readonly url: string;
  readonly protocol: string | undefined;
  readonly connectedAt: number;
  principal: Principal | undefined = undefined;
  expiresAt: number | undefined = undefined;
  authDeadline: number | undefined = undefined;
  lastActivity: number;
  closed = false;
  phase: ConnectionPhase = 'pending';
  rateHits = 0;
  rateHitTimes: number[] | undefined = undefined;
  invalid = 0;
  leases: readonly Lease[] = NO_LEASES;
  terminate: Terminate | undefined = undefined;
  deadlineSlot = -1;
  bannedUntil: number | undefined = undefined;
  /** The limiter state once made (see {@link rate}). */
  madeRate: { tat: number } | undefined = undefined;

  constructor(
    init: ConnectionInit,
    readonly id: string,
    public ipKey: string,
    public path: string,
    public banSeen: number,
    now: number,
  ) {
    this.ip = init.ip;
    this.origin = init.origin;
    this.userAgent = init.userAgent;
    this.url = init.url;
    this.protocol = init.protocol;
    this.connectedAt = now;
    this.lastActivity = now;
  }

  /** Per-connection limiter state, made on first use. */
  get rate(): { tat: number } {
    this.madeRate ??= { tat: 0 };
    return this.madeRate;
  }
}

/** A new connection in phase `pending`. */
export function createConnectionState(
  init: ConnectionInit,
  id: string,
  ipKey: string,
  path: string,
  banSeen: number,
  now: number,
): ConnectionState {
  return new ConnectionRecord(init, id, ipKey, path, banSeen, now);
}

/** Move `c` to `phase`; `closed` is final and `closing` only gives way to it. */
export function enterPhase(c: ConnectionState, phase: ConnectionPhase): void {
  if (c.phase === 'closed' || (c.phase === 'closing' && phase !== 'closed')) return;
  c.phase = phase;
  if (phase === 'closed') c.closed = true;
}
