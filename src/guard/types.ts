/**
 * The guard's contract as its callers see it: the decisions (`upgrade`, `message`), the
 * {@link Guard} itself, and the crossws hooks it builds. Types only, so the transport and the
 * adapters depend on this file and never on the composition root.
 *
 * @module
 */
import type { Hooks, Message, Peer, WSError } from 'crossws';
import type { Principal } from '../auth/principal.ts';
import type { IssuedTicket, IssueTicketOptions } from '../auth/tickets.ts';
import type { LimitResult } from '../core/rate-limit.ts';
import type { RuntimeViolation, RuntimeViolationSignals } from '../core/runtime-violation.ts';
import type { ErrorReply, MessageDecision } from '../frames/decision.ts';
import type { Accept, Reject, UpgradeInfo } from '../handshake/decision.ts';
import type { ClientAddress } from '../handshake/trusted-proxy.ts';
import type { ErrorStage } from '../observability/report.ts';
import type { CloseInitiator, StatsSnapshot } from '../observability/stats.ts';
import type { GuardConnection, Terminate } from '../state/connection.ts';
import type { Subject } from '../state/penalties.ts';
import type { Store } from '../store/contract.ts';
import type { GuardHealth } from './health.ts';

export type { Accept, ErrorReply, MessageDecision, Reject, UpgradeInfo };

/** The guard. */
export interface Guard {
  /** Decide a handshake. Never throws. */
  upgrade(info: UpgradeInfo): Promise<Accept | Reject>;
  /** Decide an inbound frame. Synchronous on the hot path; a promise only when work is async. */
  message(
    connection: GuardConnection,
    frame: string | ArrayBuffer | ArrayBufferView,
  ): MessageDecision | Promise<MessageDecision>;
  /**
   * Charge `cost` more events to the connection's and user's message limits, for protocols where
   * one frame carries many requests (a tRPC batch of N calls costs N). Returns the refusal, or
   * `undefined` when within budget.
   */
  consume(connection: GuardConnection, cost: number): LimitResult | undefined;
  /**
   * Release a connection (caps, counters). Idempotent; never throws. `by` says who closed it:
   * only `'guard'` closes count under the guard's own close codes (`closes_total{code}`); a code
   * from anyone else (a client may send any code, 4030 included) counts by class only. Omitted,
   * it is `'client'`: a code nobody vouched for is never taken for the guard's.
   */
  close(connection: GuardConnection, code?: number, by?: CloseInitiator): Promise<void>;
  /** Let the guard close this connection itself (eviction, shutdown): adapters call it on open. */
  attach(connection: GuardConnection, terminate: Terminate): void;
  /**
   * Record a frame the runtime refused itself before the guard saw it (over `maxPayload`, or
   * breaking the protocol): audited as `message.rejected` with the runtime's close code, counted,
   * and penalized like the guard's own refusal. The hooks call it from what adapters recognise.
   */
  violation(connection: GuardConnection, violation: RuntimeViolation): void;
  /**
   * Re-authenticate in band with a new token for the same subject (or, on an anonymous or pending
   * connection, its first); returns the new principal. Admitted like a handshake: a banned user is
   * closed with 4030 ({@link BannedError}), a full user cap or a path mismatch refuses the token.
   */
  refresh(connection: GuardConnection, token: string): Promise<Principal>;
  /** Verify a bearer token (for HTTP endpoints such as the ticket endpoint). */
  verifyToken(token: string): Promise<Principal>;
  /** Issue a one-time ticket (requires `tickets`). */
  issueTicket(principal: Principal, options?: IssueTicketOptions): Promise<IssuedTicket>;
  /** Whether `principal` holds `permission`. */
  can(principal: Principal, permission: string): boolean;
  /** Whether an `Origin` header value (or `null` when absent) passes the allowlist. */
  checkOrigin(origin: string | null): boolean;
  /** Whether `principal` may access `resource` (the `canAccess` hook). */
  canAccess(principal: Principal, resource: string): Promise<boolean>;
  /**
   * Ban an IP (its IPv6 prefix) or user now (admin action). Open connections it covers are closed
   * with 4030, on this instance at once and on every instance sharing the store through its
   * control channel.
   */
  ban(subject: Subject, id: string, ms?: number): Promise<number>;
  /** Lift a ban. */
  unban(subject: Subject, id: string): Promise<void>;
  /**
   * The end of the ban on an IP (its IPv6 prefix) or user (ms since epoch), or `undefined`: for
   * HTTP endpoints, such as the ticket endpoint, that tell a banned client until when.
   */
  bannedUntil(subject: Subject, id: string): Promise<number | undefined>;
  /**
   * The penalty score of an IP (its IPv6 prefix) or user now, decayed, with the threshold at
   * which it is banned; `undefined` with `penalties: false`. For admin views: who is close to a
   * ban. One store step, the score's atomic add with 0 points: it adds nothing, but a subject with
   * no score gets a zero one, expiring with the score's TTL (ten half-lives).
   */
  penaltyScore(
    subject: Subject,
    id: string,
  ): Promise<{ readonly score: number; readonly threshold: number } | undefined>;
  /**
   * Close every open connection of `userId` on this instance (default 4003: the client stops);
   * returns how many were closed.
   */
  kick(userId: string, code?: number, reason?: string): number;
  /** Open connections on this instance. */
  connections(): IterableIterator<GuardConnection>;
  /** Counters and gauges. */
  stats(): StatsSnapshot;
  /** Prometheus text. */
  metrics(): string;
  /** Resolves once keys are imported; rejects with the import error. */
  ready(): Promise<void>;
  /**
   * Readiness: probe the store (one bounded read, timed) and say whether this instance should get
   * traffic (store up, not shutting down). Never throws. `readinessHandler` answers it over HTTP.
   */
  health(): Promise<GuardHealth>;
  /**
   * Close every connection with 1001 and release all leases; for graceful shutdown. With a
   * reconnect window (`options`, else the guard's `reconnectWindowMs`), each close reason ends in
   * `retry in <ms>`, drawn per connection over the window, which the guarded client waits.
   */
  shutdown(reason?: string, options?: ShutdownOptions): Promise<void>;
  /**
   * crossws hooks with this guard in front of `app` (the same as `guardHooks(guard, app)`); the
   * adapters in `wsguard/adapters/*` call it for you.
   */
  hooks(app?: GuardedHooks, options?: GuardHooksOptions): GuardHooks;
  /**
   * The guard's posture in one line, for a start-up log: origins, credential sources and how they
   * are verified, the store (shared or not), connection and frame limits, TLS. Never a secret.
   */
  describe(): string;
  /** Whether this guard issues one-time tickets (`tickets` set): `serve()` then serves their route. */
  readonly issuesTickets: boolean;
  /** The effective message size limit, for adapters to configure the runtime (`maxPayload`). */
  readonly maxBytes: number;
  /** The store in use. */
  readonly store: Store;
}

/** How one shutdown closes its connections. */
export interface ShutdownOptions {
  /** Spread the clients' reconnects over this many ms (see `reconnectWindowMs`). */
  readonly reconnectWindowMs?: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * What an app hook returns: anything. A promise (any thenable) is awaited and its rejection
 * handled (reported; 1011 for `message`); any other value (`peer.send()`'s number) is ignored.
 */
export type HookResult = unknown;

/** What an adapter knows about the client of a handshake. */
export interface ClientInfo extends ClientAddress {
  /** Whether the client's socket is still there; checked once the guard has decided. */
  readonly alive?: () => boolean;
}

/** A frame the guard let through, as the app's `message` hook receives it. */
export interface GuardedMessage {
  /** The guard's connection (principal, expiry, counters). */
  readonly connection: GuardConnection;
  /** The parsed JSON value (or the raw frame when `messages.json` is off). */
  readonly value: unknown;
  /** True for the first-message credential that authenticated the connection. */
  readonly authenticated: boolean;
}

/**
 * The app's hooks. Plain crossws hooks fit; the extra last argument carries the guard's
 * connection. They only run for connections the guard accepted.
 */
export interface GuardedHooks {
  /** After the guard accepted: add headers, or refuse with a `Response`. */
  readonly upgrade?: (
    request: Request,
    connection: GuardConnection,
    // biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing is typed `void`
  ) => MaybePromise<{ headers?: HeadersInit } | Response | undefined | void>;
  /** The socket opened. Frames wait until a returned promise settles. */
  readonly open?: (peer: Peer, connection: GuardConnection) => HookResult;
  /**
   * A frame passed every check. An expression body fits
   * (`(peer, _m, { value }) => peer.send(JSON.stringify(value))`): what it returns is ignored,
   * unless it is a promise, whose rejection closes the connection with 1011 and is reported.
   */
  readonly message?: (peer: Peer, message: Message, guarded: GuardedMessage) => HookResult;
  /**
   * The guard refused a frame with an error reply (rate limit, invalid message, permission) and
   * the connection stays open. Answer it in the app's protocol (e.g. one tRPC error per call id in
   * the frame, so the calls do not wait forever); the frame is the raw one the guard refused, not
   * parsed, possibly malformed. Without this hook the guard's `reply` is sent as JSON.
   */
  readonly refused?: (
    peer: Peer,
    reply: ErrorReply,
    frame: string | ArrayBuffer | ArrayBufferView,
    connection: GuardConnection,
  ) => HookResult;
  /** The socket closed; caps are already being released. */
  readonly close?: (
    peer: Peer,
    details: { code?: number; reason?: string },
    connection: GuardConnection,
  ) => HookResult;
  /** A socket error (often the client's: a protocol violation). */
  readonly error?: (peer: Peer, error: WSError) => HookResult;
  /** The send buffer drained. */
  readonly drain?: (peer: Peer) => HookResult;
  /** A ping frame arrived. */
  readonly ping?: (peer: Peer, data: Uint8Array) => HookResult;
  /** A pong frame arrived. */
  readonly pong?: (peer: Peer, data: Uint8Array) => HookResult;
}

/** Options for {@link guardHooks}. */
export interface GuardHooksOptions {
  /**
   * Bytes queued for a client before it is closed with 1013 (too slow to read). Checked after
   * every `peer.send` and every `bufferCheckMs`.
   * @default 1048576
   */
  readonly maxBufferedBytes?: number;
  /**
   * How often every socket's buffer is checked (sends that bypass `peer.send`, e.g. `publish`).
   * @default 1000
   */
  readonly bufferCheckMs?: number;
  /**
   * Frames waiting behind an async decision before the connection is closed with 4029.
   * @default 64
   */
  readonly maxQueuedMessages?: number;
  /**
   * Bytes of frames waiting behind an async decision before the connection is closed with 4029.
   * @default 1048576
   */
  readonly maxQueuedBytes?: number;
  /**
   * An accepted handshake whose socket has not opened by then is released. `0`: no timer, for
   * adapters whose runtime opens or refuses the socket before their upgrade call returns and
   * which then call {@link GuardHooks.abandon} (wsguard's Node adapter).
   * @default 10000
   */
  readonly openTimeoutMs?: number;
  /**
   * After the server closes a socket, how long the client has to answer the close frame before
   * the socket is cut (a client that does not read never answers).
   * @default 5000
   */
  readonly closeTimeoutMs?: number;
  /** Accept handshakes on this path only (others get 404). @default every path */
  readonly path?: string;
  /**
   * The client of a handshake, for servers that do not use a wsguard adapter. The default reads
   * what {@link setClient} stored, then srvx's `request.ip` (not secure).
   */
  readonly clientInfo?: (request: Request) => ClientInfo | undefined;
  /** Failures of hooks (the app's or the guard's); never thrown. @default console.error */
  readonly onError?: (error: unknown, context: { stage: ErrorStage }) => void;
  /**
   * How the runtime reports a frame it refused itself (over its size limit, or breaking the
   * protocol) before the guard saw it; each one is then audited, counted and penalized through
   * `guard.violation`. wsguard's adapters set it for their runtime.
   * @default none: such closes are not attributed
   */
  readonly runtimeViolations?: RuntimeViolationSignals;
}

/** crossws hooks with the guard in front, plus what adapters need for their lifecycle. */
export interface GuardHooks extends Hooks {
  /**
   * Release a handshake the runtime refused after the upgrade hook accepted it (the socket never
   * opened). Adapters call it once their upgrade call returns; a no-op when the socket opened.
   */
  abandon(request: Request): Promise<void>;
  /** Refuse new handshakes with 503 (graceful shutdown). */
  stop(): void;
  /** Resolves `true` once no socket is open, or `false` after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Cut every open socket without a close handshake (end of a graceful shutdown). */
  terminateAll(): void;
  /** Open sockets. */
  readonly size: number;
}
