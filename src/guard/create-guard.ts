/**
 * `createGuard`: composes origins, credentials, JWT, tickets, limits, caps, penalties, message
 * checks, permissions, audit and stats into three calls an adapter makes:
 *
 * - `upgrade(info)` → {@link Accept} or {@link Reject}, once per handshake;
 * - `message(connection, frame)` → {@link MessageDecision}, for every inbound frame;
 * - `close(connection)`, once when the socket ends.
 *
 * The guard never throws into the runtime: a failure becomes a rejection (503 when the store is
 * down, 500 otherwise) and a call to `onError`.
 *
 * @module
 */

import { createJwtVerifier, type JwtVerifier } from '../auth/jwt.ts';
import { createPermissions, type Permissions } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import {
  createTickets,
  type IssuedTicket,
  type IssueTicketOptions,
  type Tickets,
} from '../auth/tickets.ts';
import { bannedReason, MAX_DATE_MS } from '../core/ban-reason.ts';
import {
  CloseCode,
  MESSAGE_CLOSE_CODES,
  type MessageRejectReason,
  REJECTIONS,
  type RejectMode,
  type RejectReason,
} from '../core/codes.ts';
import { randomId } from '../core/encoding.ts';
import {
  BannedError,
  CredentialError,
  GuardConfigError,
  GuardError,
  isGuardError,
  StoreUnavailableError,
} from '../core/errors.ts';
import {
  gcraStep,
  type LimitResult,
  LocalLimiter,
  type RateRule,
  tryStep,
} from '../core/rate-limit.ts';
import type { RuntimeViolation } from '../core/runtime-violation.ts';
import { frameBytes, parseFrame, type ReportedIssue, validate } from '../frames/parse.ts';
import {
  type Credential,
  createCredentialExtractor,
  isUsableCredential,
} from '../handshake/credentials.ts';
import { createOriginMatcher } from '../handshake/origin.ts';
import { requestUrl } from '../handshake/request-url.ts';
import { type AuditEmitter, type AuditEvent, createAuditEmitter } from '../observability/audit.ts';
import { redactUrl } from '../observability/redact.ts';
import { type CloseInitiator, Stats } from '../observability/stats.ts';
import type { ConnectionState, GuardConnection, Terminate } from '../state/connection.ts';
import { ipKey } from '../state/ip-key.ts';
import {
  createPenalties,
  type Penalties,
  type Subject,
  type Violation,
} from '../state/penalties.ts';
import type { Store, StoreSubscription } from '../store/contract.ts';
import { withLocalFallback } from '../store/fallback.ts';
import { createMemoryStore, isMemoryStore } from '../store/memory.ts';
import { guardHooks } from '../transport/hooks.ts';
import { diagnose } from './doctor.ts';
import { DEFAULTS, type ErrorStage, type GuardOptions } from './options.ts';
import type { Accept, ErrorReply, Guard, MessageDecision, Reject, UpgradeInfo } from './types.ts';

const REPLIES: Record<string, ErrorReply['error']['code']> = {
  message_rate: 'TOO_MANY_REQUESTS',
  user_message_rate: 'TOO_MANY_REQUESTS',
  permission: 'FORBIDDEN',
};

/** Why {@link admit} refused an identity. */
type Refusal =
  | { readonly reason: 'banned'; readonly until: number }
  | { readonly reason: 'path_mismatch' | 'ip_cap' | 'user_cap' | 'closed' };
const CLOSED: Refusal = { reason: 'closed' };

/** Already settled: for paths with nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** Stands in for a request URL that does not parse (no credential can be read from it). */
const INVALID_URL = new URL('http://invalid/');

function ruleOf(value: RateRule | false | undefined, fallback: RateRule): RateRule | undefined {
  return value === false ? undefined : (value ?? fallback);
}

function capOf(value: number | false | undefined, fallback: number): number | undefined {
  return value === false ? undefined : (value ?? fallback);
}

/** Wrap a store so any failure surfaces as {@link StoreUnavailableError}. */
function failClosed(store: Store): Store {
  const unavailable = (error: unknown): GuardError =>
    isGuardError(error)
      ? error
      : new StoreUnavailableError(`store "${store.name}" failed`, { cause: error });
  const reject = (error: unknown): never => {
    throw unavailable(error);
  };
  // Not an async function: one `then` per call instead of an async frame and an await, on a
  // path every handshake takes five or six times. A synchronous throw is caught the same way.
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      try {
        // Promise.resolve: a store that answers a plain value or an odd thenable still gets a
        // real promise (a native promise passes through unchanged, at no cost).
        return Promise.resolve(fn(...args)).then(undefined, reject);
      } catch (error) {
        return Promise.reject(unavailable(error));
      }
    };
  return {
    name: store.name,
    shared: store.shared,
    set: wrap(store.set.bind(store)),
    get: wrap(store.get.bind(store)),
    delete: wrap(store.delete.bind(store)),
    take: wrap(store.take.bind(store)),
    limit: wrap(store.limit.bind(store)),
    acquireLease: wrap(store.acquireLease.bind(store)),
    renewLeases: wrap(store.renewLeases.bind(store)),
    releaseLease: wrap(store.releaseLease.bind(store)),
    countLeases: wrap(store.countLeases.bind(store)),
    addScore: wrap(store.addScore.bind(store)),
    ...(store.takeWithTtl ? { takeWithTtl: wrap(store.takeWithTtl.bind(store)) } : {}),
    ...(store.publish ? { publish: wrap(store.publish.bind(store)) } : {}),
    // Synchronous, and its failures are the listener's resync: not wrapped.
    ...(store.subscribe ? { subscribe: store.subscribe.bind(store) } : {}),
  };
}

/** The control channel every guard on one store listens to: bans reach every instance. */
const CONTROL_CHANNEL = 'control';
/** The window rate refusals are counted in: `closeAfterRateHits` within it close with 4029. */
const RATE_HIT_WINDOW_MS = 10_000;
/** The longest a connection's timer is armed for (see `armTimer`). */
const TIMER_SLICE_MS = 60_000;
/** Bans seen recently, held to refuse an upgrade racing the ban; bounded. */
const MAX_RECENT_BANS = 10_000;

/** A ban as carried on the control channel. */
interface BanMessage {
  readonly v: 1;
  readonly from: string;
  /** `unban`: forget the ban (`until` is 0). */
  readonly kind: 'ban' | 'unban';
  readonly subject: Subject;
  readonly id: string;
  readonly until: number;
}

function parseBanMessage(text: string): BanMessage | undefined {
  if (text.length > 4096) return undefined;
  try {
    const m = JSON.parse(text) as Partial<BanMessage> | null;
    if (
      m &&
      m.v === 1 &&
      (m.kind === 'ban' || m.kind === 'unban') &&
      (m.subject === 'ip' || m.subject === 'user') &&
      typeof m.id === 'string' &&
      typeof m.from === 'string' &&
      typeof m.until === 'number' &&
      Math.abs(m.until) <= MAX_DATE_MS
    )
      return m as BanMessage;
  } catch {
    // Not ours: ignored.
  }
  return undefined;
}

/** Match `/ws/:sub`-style routes; returns the parameter value or `undefined`. */
function pathParam(pattern: string, path: string): string | undefined {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  let value: string | undefined;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(':')) {
      try {
        value = decodeURIComponent(s[i]!);
      } catch {
        return undefined;
      }
    } else if (seg !== s[i]) return undefined;
  }
  return value;
}

/**
 * Create a guard. Throws {@link GuardConfigError} listing every unsafe or malformed option.
 *
 * @example
 * ```ts
 * const guard = createGuard({
 *   origins: ['https://app.example.com'],
 *   jwt: { algorithms: ['HS256'], secret: process.env.JWT_SECRET! },
 *   tickets: true,
 * });
 * ```
 */
export function createGuard(options: GuardOptions): Guard {
  const problems = diagnose(options);
  if (problems.length > 0) throw new GuardConfigError(problems);

  const now = options.now ?? Date.now;
  const onError =
    options.onError ??
    ((error: unknown, context: { stage: ErrorStage }) => {
      console.error(`[wsguard] ${context.stage}:`, error);
    });
  const report = (stage: ErrorStage) => (error: unknown) => {
    try {
      onError(error, { stage });
    } catch {
      // An error handler that throws must not take the server down.
    }
  };
  const rawStore = options.store ?? createMemoryStore({ now });
  // The memory store cannot be unavailable (a throw from it is a bug, answered 500 like any other),
  // so it goes unwrapped; every other store fails closed.
  const guarded = isMemoryStore(rawStore) ? rawStore : failClosed(rawStore);
  const store =
    options.limits?.onStoreError === 'local'
      ? withLocalFallback(guarded, (operation, error) => {
          report('store')(error);
          audit({
            type: 'store.error',
            reason: 'store_unavailable',
            detail: { fallback: operation },
          });
        })
      : guarded;
  const dryRun = options.dryRun ?? false;
  const origins = createOriginMatcher({
    allow: options.origins ?? [],
    ...(options.missingOrigin ? { missing: options.missingOrigin } : {}),
    ...(options.nullOrigin ? { null: options.nullOrigin } : {}),
    ...(options.dangerouslyAllowAnyOrigin ? { dangerouslyAllowAnyOrigin: true } : {}),
  });
  const ticketsEnabled = Boolean(options.tickets);
  const tickets: Tickets | undefined = ticketsEnabled
    ? createTickets(store, typeof options.tickets === 'object' ? options.tickets : {}, now)
    : undefined;
  const jwt: JwtVerifier | undefined = options.jwt ? createJwtVerifier(options.jwt) : undefined;
  const extractor = createCredentialExtractor(
    options.credentials ?? { header: Boolean(options.jwt) },
    ticketsEnabled,
  );
  const cookieOptions = options.credentials?.cookie;
  const permissions: Permissions = createPermissions(options.permissions);
  const penalties: Penalties | undefined =
    options.penalties === false ? undefined : createPenalties(store, options.penalties ?? {}, now);
  // The ban list is checked even with penalties off: `penalties: false` stops automatic scoring,
  // but an admin's `guard.ban()` must still hold (one store read per upgrade).
  const bans: Penalties = penalties ?? createPenalties(store, {}, now);
  const stats = new Stats();
  const secretParams = [
    typeof options.credentials?.ticket === 'object' ? options.credentials.ticket.param : undefined,
    typeof options.credentials?.query === 'object' ? options.credentials.query.param : undefined,
    cookieOptions?.csrf?.param,
  ]
    .filter((p): p is string => typeof p === 'string')
    .map((p) => p.toLowerCase());
  const audit: AuditEmitter = createAuditEmitter(
    options.audit ?? 'console',
    secretParams,
    report('audit'),
  );
  /** `audit: false`: the per-connection events of the hot paths are not even built. */
  const auditing = options.audit !== false;

  const limits = options.limits ?? {};
  const connectRate = ruleOf(limits.connectRate, DEFAULTS.connectRate);
  const messageRate = ruleOf(limits.messageRate, DEFAULTS.messageRate);
  const userRate = ruleOf(limits.userMessageRate, DEFAULTS.userMessageRate);
  const userLimiter = userRate ? new LocalLimiter(userRate) : undefined;
  const ipCap = capOf(limits.maxConnectionsPerIp, DEFAULTS.maxConnectionsPerIp);
  const userCap = capOf(limits.maxConnectionsPerUser, DEFAULTS.maxConnectionsPerUser);
  const leaseTtl = limits.leaseTtlMs ?? DEFAULTS.leaseTtlMs;
  const closeAfterRateHits = limits.closeAfterRateHits ?? DEFAULTS.closeAfterRateHits;
  const m = options.messages ?? {};
  const maxBytes = m.maxBytes ?? DEFAULTS.maxBytes;
  const maxDepth = m.maxDepth ?? DEFAULTS.maxDepth;
  const maxEntries = m.maxEntries ?? DEFAULTS.maxEntries;
  const maxIssues = m.maxIssues ?? DEFAULTS.maxIssues;
  const maxInvalid = m.maxInvalid ?? DEFAULTS.maxInvalid;
  const json = m.json ?? true;
  const passthrough = new Set(m.passthrough ?? []);
  // Longer frames cannot be in the set: no need to hash them to find out.
  let passthroughMax = 0;
  for (const p of passthrough)
    if (typeof p === 'string' && p.length > passthroughMax) passthroughMax = p.length;
  const retryUnavailable = options.retryAfterUnavailableSec ?? 5;
  const ipv6Prefix = options.ipv6Prefix ?? DEFAULTS.ipv6Prefix;
  /** The key of every per-IP defence: one IPv6 prefix counts as one client. */
  const keyOfIp = (ip: string): string => ipKey(ip, ipv6Prefix);
  const instanceId = randomId();

  const live = new Map<string, ConnectionState>();
  const userConnections = new Map<string, number>();
  let renewTimer: ReturnType<typeof setInterval> | undefined;

  // ---- helpers -------------------------------------------------------------------------------

  /**
   * `subject:key` → a ban this instance has seen: its end, and `seq`, the value of `banSeq` when
   * it was seen. A handshake or authentication heeds only bans seen after it began (later than its
   * own store reads), so an entry made stale by an unban whose message was lost refuses nobody who
   * read the store since. See {@link MAX_RECENT_BANS}.
   */
  const recentBans = new Map<string, { until: number; seq: number }>();
  let banSeq = 0;
  const rememberBan = (subject: Subject, key: string, until: number): void => {
    const k = `${subject}:${key}`;
    recentBans.delete(k);
    recentBans.set(k, { until, seq: ++banSeq });
    if (recentBans.size <= MAX_RECENT_BANS) return;
    const t = now();
    for (const [bk, b] of recentBans) if (b.until <= t) recentBans.delete(bk);
    for (const bk of recentBans.keys()) {
      if (recentBans.size <= MAX_RECENT_BANS) break;
      recentBans.delete(bk);
    }
  };
  /**
   * The end of a running ban on `c`'s address or user that this instance saw after `since` (a
   * `banSeq` value taken before the caller's store reads), if any.
   */
  const knownBan = (
    c: ConnectionState,
    userId: string | undefined,
    since: number,
  ): number | undefined => {
    if (banSeq === since || recentBans.size === 0) return undefined;
    const t = now();
    const ipBan = recentBans.get(`ip:${c.ipKey}`);
    if (ipBan !== undefined && ipBan.seq > since && ipBan.until > t) return ipBan.until;
    if (userId === undefined) return undefined;
    const userBan = recentBans.get(`user:${userId}`);
    return userBan !== undefined && userBan.seq > since && userBan.until > t
      ? userBan.until
      : undefined;
  };

  /**
   * End this instance's connections covered by a ban (4030, with its end), and remember the ban
   * so an upgrade or authentication racing it is refused too.
   */
  const closeBanned = (subject: Subject, key: string, until: number): void => {
    if (!(until > now())) return;
    rememberBan(subject, key, until);
    const reason = bannedReason(until);
    for (const c of live.values()) {
      if (c.closed || c.bannedUntil !== undefined) continue;
      if (subject === 'ip' ? c.ipKey !== key : c.principal?.sub !== key) continue;
      c.bannedUntil = until;
      // Not attached yet (the socket is opening): `attach` terminates it.
      c.terminate?.(CloseCode.Banned, reason);
    }
  };

  /** Tell every other instance on the store (a store without pub/sub: nothing to tell). */
  const publishControl = (
    kind: BanMessage['kind'],
    subject: Subject,
    id: string,
    until: number,
  ): Promise<void> => {
    const message: BanMessage = { v: 1, from: instanceId, kind, subject, id, until };
    return (store.publish?.(CONTROL_CHANNEL, JSON.stringify(message)) ?? DONE).catch(
      report('store'),
    );
  };

  /** Enforce a new ban here and tell every other instance on the store. */
  const enforceBan = (subject: Subject, key: string, until: number): void => {
    closeBanned(subject, key, until);
    void publishControl('ban', subject, key, until);
  };

  const penalize = (
    subject: Subject,
    id: string | undefined,
    violation: Violation,
    context: Partial<ConnectionState>,
  ) => {
    if (!penalties || id === undefined) return;
    penalties.record(subject, id, violation, dryRun).then((r) => {
      if (r.bannedUntil === undefined) return;
      stats.banned();
      audit({
        type: 'ban.started',
        ...(subject === 'ip' ? { ip: context.ip ?? id } : { userId: id, ip: context.ip }),
        reason: violation,
        dryRun,
        detail: {
          subject,
          ...(subject === 'ip' && context.ip !== id ? { key: id } : {}),
          until: new Date(r.bannedUntil).toISOString(),
          score: Math.round(r.score * 100) / 100,
        },
      });
      if (!dryRun) enforceBan(subject, id, r.bannedUntil);
    }, report('store'));
  };

  // ---- bans on other instances -----------------------------------------------------------------
  //
  // A ban placed anywhere reaches this instance's connections through the store's control
  // channel (Redis pub/sub: milliseconds). Pub/sub is at most once: after the subscription was
  // interrupted, `resync` re-reads the ban of every address and user with a connection here. A
  // store without pub/sub is polled the same way at every lease renewal (leaseTtlMs / 3).

  let subscription: StoreSubscription | undefined;
  let subscribed = false;
  let polling = false;
  const onControl = (text: string): void => {
    const m = parseBanMessage(text);
    if (!m || m.from === instanceId || dryRun) return;
    if (m.kind === 'unban') {
      recentBans.delete(`${m.subject}:${m.id}`);
      return;
    }
    // A hint, confirmed by the store before anyone is closed: the channel takes anyone's PUBLISH.
    bans.bannedUntil(m.subject, m.id).then((until) => {
      if (until !== undefined) closeBanned(m.subject, m.id, until);
    }, report('store'));
  };
  let sweeping = false;
  /** A sweep asked for and not completed (store away, or one already running): retried soon. */
  let sweepRetry: ReturnType<typeof setTimeout> | undefined;
  let sweepFailures = 0;
  const retrySweep = (): void => {
    if (sweepRetry !== undefined) return;
    const ms = Math.min(250 * 2 ** sweepFailures, Math.max(1000, Math.floor(leaseTtl / 3)));
    sweepRetry = setTimeout(() => {
      sweepRetry = undefined;
      sweepBans();
    }, ms);
    (sweepRetry as { unref?: () => void }).unref?.();
  };
  /** Read the bans of every address and user connected here; close what they cover. */
  const sweepBans = (): void => {
    if (live.size === 0 || dryRun) return;
    if (sweeping) {
      retrySweep();
      return;
    }
    sweeping = true;
    const ips = new Set<string>();
    const users = new Set<string>();
    for (const c of live.values()) {
      ips.add(c.ipKey);
      if (c.principal) users.add(c.principal.sub);
    }
    const check = (subject: Subject, key: string) =>
      bans.bannedUntil(subject, key).then((until) => {
        if (until !== undefined) closeBanned(subject, key, until);
      });
    Promise.all([
      ...[...ips].map((k) => check('ip', k)),
      ...[...users].map((k) => check('user', k)),
    ])
      .then(
        () => {
          sweepFailures = 0;
        },
        (error: unknown) => {
          // The re-read is what makes up for lost messages: it must not be lost in turn.
          sweepFailures = Math.min(sweepFailures + 1, 8);
          report('store')(error);
          retrySweep();
        },
      )
      .finally(() => {
        sweeping = false;
      });
  };
  const listen = (): void => {
    if (subscribed) return;
    subscribed = true;
    try {
      subscription = store.subscribe?.(CONTROL_CHANNEL, { message: onControl, resync: sweepBans });
    } catch (error) {
      report('store')(error);
    }
    // Shared stores only: guards on one unshared store without pub/sub have nobody to hear.
    polling = subscription === undefined && store.shared;
  };

  // Lease sets whose last renewal failed. Their leases may have expired meanwhile (an outage
  // longer than leaseTtlMs, or a Redis restart that lost them), and a renewal never revives an
  // expired lease, so the caps would under-count these connections until they close. Once the
  // store answers again, the leases are taken again instead, where the cap has room.
  const renewalFailed = new Set<string>();
  const reacquire = (key: string, ids: readonly string[]): Promise<unknown> => {
    const max = key.startsWith('lease:ip:') ? ipCap : userCap;
    if (max === undefined) return Promise.resolve();
    return Promise.all(
      ids.map(async (id) => {
        await store.acquireLease(key, id, max, leaseTtl);
        // Closed while this was in flight: its release may have run first; release again.
        if (!live.has(id)) await store.releaseLease(key, id);
      }),
    );
  };

  const startRenewal = () => {
    if (renewTimer !== undefined) return;
    renewTimer = setInterval(
      () => {
        if (polling) sweepBans();
        const byKey = new Map<string, string[]>();
        for (const c of live.values()) {
          for (const [key, id] of c.leases) {
            const ids = byKey.get(key) ?? [];
            ids.push(id);
            byKey.set(key, ids);
          }
        }
        for (const key of renewalFailed) if (!byKey.has(key)) renewalFailed.delete(key);
        for (const [key, ids] of byKey) {
          const failed = (error: unknown) => {
            renewalFailed.add(key);
            report('lease-renewal')(error);
          };
          // In a timer: a synchronous throw (the memory store calls the guard's clock) must be
          // caught here, not become an uncaught exception.
          try {
            if (renewalFailed.has(key))
              reacquire(key, ids).then(() => renewalFailed.delete(key), failed);
            else store.renewLeases(key, ids, leaseTtl).catch(failed);
          } catch (error) {
            failed(error);
          }
        }
      },
      Math.max(1000, Math.floor(leaseTtl / 3)),
    );
    // Never keep a process alive just to renew leases.
    (renewTimer as { unref?: () => void }).unref?.();
  };

  const stopRenewalIfIdle = () => {
    if (live.size === 0 && renewTimer !== undefined) {
      clearInterval(renewTimer);
      renewTimer = undefined;
    }
  };

  const reject = (
    reason: RejectReason,
    base: {
      ip: string;
      origin: string | null;
      userAgent: string | undefined;
      url: string;
      protocol: string | undefined;
    },
    extra: {
      retryAfter?: number;
      message?: string;
      userId?: string;
      violation?: Violation;
      mode?: RejectMode;
    } = {},
  ): Reject => {
    const row = REJECTIONS[reason];
    const mode = options.rejectModes?.[reason] ?? extra.mode ?? row.mode;
    stats.rejected(reason);
    audit({
      type: 'connection.rejected',
      ip: base.ip,
      origin: base.origin,
      ...(base.userAgent !== undefined ? { userAgent: base.userAgent } : {}),
      url: base.url,
      ...(extra.userId !== undefined ? { userId: extra.userId } : {}),
      reason,
      status: row.status,
      closeCode: row.closeCode,
    });
    if (extra.violation) penalize('ip', keyOfIp(base.ip), extra.violation, base);
    return {
      ok: false,
      reason,
      status: row.status,
      closeCode: row.closeCode,
      message: extra.message ?? row.message,
      mode,
      retryAfter: extra.retryAfter,
      protocol: base.protocol,
    };
  };

  const verifyCredential = async (
    credential: Credential,
    ip: string,
    origin: string | null,
  ): Promise<Principal> => {
    if (!isUsableCredential(credential.value))
      throw new CredentialError('credential too long or empty');
    let principal: Principal;
    if (credential.kind === 'ticket') {
      if (!tickets) throw new CredentialError('tickets are not enabled');
      principal = await tickets.redeem(credential.value, { ip, origin });
    } else {
      if (!jwt) throw new CredentialError('tokens are not enabled');
      principal = await jwt.verify(credential.value);
    }
    if (options.principal) principal = await options.principal(principal);
    return {
      ...principal,
      permissions: permissions.expand(principal.roles, principal.permissions),
    };
  };

  /**
   * Caps: IP lease then user lease; on a refusal, release what this call took (and only that: a
   * live connection authenticating later keeps the IP lease it holds).
   */
  const acquireCaps = async (
    c: ConnectionState,
    userId: string | undefined,
    takeIp: boolean,
  ): Promise<'ip_cap' | 'user_cap' | undefined> => {
    if (takeIp && ipCap !== undefined) {
      const key = `lease:ip:${c.ipKey}`;
      const r = await store.acquireLease(key, c.id, ipCap, leaseTtl);
      if (!r.ok && !dryRun) return 'ip_cap';
      if (r.ok) {
        // Closed while the lease was taken: close() has already given back what it held, so
        // this one is released here rather than kept on a dead connection.
        if (c.closed) await store.releaseLease(key, c.id).catch(reportClose);
        else c.leases.push([key, c.id]);
      } else
        audit({ type: 'limit.exceeded', ip: c.ip, reason: 'ip_cap', dryRun, connectionId: c.id });
    }
    if (userId !== undefined && userCap !== undefined) {
      const key = `lease:user:${userId}`;
      const r = await store.acquireLease(key, c.id, userCap, leaseTtl, {
        // Evicting is enforcing: in dry-run the full cap is only audited, like any other cap.
        evictOldest: (limits.singleSession ?? false) && !dryRun,
      });
      if (!r.ok && !dryRun) {
        if (takeIp) await releaseLeases(c);
        return 'user_cap';
      }
      if (r.ok) {
        // Closed while the lease was taken: close() has already given back what it held, so
        // this one is released here rather than kept on a dead connection.
        if (c.closed) await store.releaseLease(key, c.id).catch(reportClose);
        else c.leases.push([key, c.id]);
      } else
        audit({
          type: 'limit.exceeded',
          ip: c.ip,
          userId,
          reason: 'user_cap',
          dryRun,
          connectionId: c.id,
        });
      if (r.evicted !== undefined) {
        const old = live.get(r.evicted);
        audit({
          type: 'connection.evicted',
          connectionId: r.evicted,
          userId,
          reason: 'single_session',
        });
        old?.terminate?.(CloseCode.TooManyConnections, 'replaced by a newer session');
      }
    }
    return undefined;
  };

  /** Release the leases of `c` taken since it held `held` of them. */
  const releaseNewLeases = (c: ConnectionState, held: number): Promise<void> => {
    if (c.leases.length <= held) return DONE;
    const taken = c.leases.splice(held);
    return Promise.all(taken.map(([k, id]) => store.releaseLease(k, id).catch(reportClose))).then(
      noop,
    );
  };

  /**
   * Admission of an identity on a connection, the same at the handshake, at first-message
   * authentication and at an in-band refresh: the user's ban, path binding, caps. `closed` and
   * the bans seen meanwhile are re-checked after every await, and leases taken by a refused
   * admission are released, so a socket that closed mid-way leaves nothing behind.
   */
  const admit = async (
    c: ConnectionState,
    principal: Principal,
    takeIp: boolean,
    since: number,
  ): Promise<Refusal | undefined> => {
    const sub = principal.sub;
    const until = await bans.bannedUntil('user', sub);
    if (c.closed) return CLOSED;
    if (until !== undefined) {
      if (!dryRun) return { reason: 'banned', until };
      audit({ type: 'limit.exceeded', ip: c.ip, userId: sub, reason: 'banned', dryRun });
    }
    if (options.pathBinding !== undefined && pathParam(options.pathBinding, c.path) !== sub)
      return { reason: 'path_mismatch' };
    const newUser = c.principal?.sub !== sub;
    if (!newUser && !takeIp) return undefined;
    const held = c.leases.length;
    const capped = await acquireCaps(c, newUser ? sub : undefined, takeIp);
    if (capped) return { reason: capped };
    const late = dryRun ? undefined : knownBan(c, sub, since);
    if (c.closed || late !== undefined) {
      // The socket closed, or a ban arrived, while the leases were taken: give them back.
      await releaseNewLeases(c, held);
      return late !== undefined && !c.closed ? { reason: 'banned', until: late } : CLOSED;
    }
    return undefined;
  };

  /** Make `principal` the identity of live connection `c` (after {@link admit}). */
  const join = (c: ConnectionState, principal: Principal): void => {
    const previous = c.principal?.sub;
    c.principal = principal;
    c.expiresAt = principal.expiresAt;
    c.authDeadline = undefined;
    if (previous !== principal.sub) {
      stats.userJoined(principal.sub);
      registerUser(principal.sub);
    }
    armTimer(c);
  };

  const reportClose = report('close');
  const releaseLeases = (c: ConnectionState): Promise<void> => {
    const leases = c.leases;
    c.leases = [];
    // Not async, and no Promise.all for the usual one lease: this runs on every close.
    if (leases.length === 0) return DONE;
    const release = ([key, id]: readonly [string, string]): Promise<void> =>
      store.releaseLease(key, id).catch(reportClose);
    if (leases.length === 1) return release(leases[0]!);
    return Promise.all(leases.map(release)).then(noop);
  };

  const registerUser = (userId: string) => {
    userConnections.set(userId, (userConnections.get(userId) ?? 0) + 1);
  };

  // ---- upgrade -------------------------------------------------------------------------------

  const upgrade = async (info: UpgradeInfo): Promise<Accept | Reject> => {
    const { request, ip } = info;
    const url = requestUrl(request) ?? INVALID_URL;
    const origin = request.headers.get('origin');
    const ua = request.headers.get('user-agent');
    const base = {
      ip,
      origin,
      userAgent: ua === null ? undefined : ua.slice(0, 256),
      url: redactUrl(`${url.pathname}${url.search}`.slice(0, 2048), secretParams),
      protocol: undefined as string | undefined,
    };
    try {
      base.protocol = extractor.selectProtocol(request);

      // Stateless refusals first: a foreign origin or plain ws:// costs no store step, spends no
      // connection budget and scores nothing. A browser sends the page's own Origin, so a hostile
      // page opening sockets through its visitors' browsers must not be able to spend or ban
      // their address.
      // 1. transport and origin
      if (options.requireSecure && !info.secure) return reject('insecure_transport', base);
      if (!origins.check(origin)) return reject('origin', base, { violation: 'origin' });

      const key = keyOfIp(ip);
      // Bans seen from here on were placed after this handshake's own reads could see them.
      const since = banSeq;
      // A browser (it sent an allowed Origin) cannot read a refused upgrade's status: it is told
      // a ban by a 4030 close carrying the end, which its WebSocket API does show.
      const banMode: RejectMode | undefined = origin !== null ? 'close' : undefined;
      // 2. bans
      const ipBan = await bans.bannedUntil('ip', key);
      if (ipBan !== undefined) {
        if (!dryRun) {
          // Telling a browser costs an accepted socket; a banned client that forges an Origin must
          // not get them without bound: past the connection rate (counted apart, so a ban does
          // not also eat the budget the address has once it ends) it gets the plain 403.
          const tell =
            banMode !== undefined &&
            (!connectRate || (await store.limit(`rate:banned:${key}`, connectRate)).allowed);
          return reject('banned', base, {
            retryAfter: Math.ceil((ipBan - now()) / 1000),
            message: bannedReason(ipBan),
            ...(tell ? { mode: banMode } : {}),
          });
        }
        audit({ type: 'limit.exceeded', ip, reason: 'banned', dryRun });
      }
      // 3. connection rate
      if (connectRate) {
        const r = await store.limit(`rate:connect:${key}`, connectRate);
        if (!r.allowed) {
          if (!dryRun)
            return reject('connect_rate', base, {
              retryAfter: Math.ceil(r.retryAfterMs / 1000),
              violation: 'connect_rate',
            });
          audit({ type: 'limit.exceeded', ip, reason: 'connect_rate', dryRun });
        }
      }

      // 4. credentials
      const credential = extractor.fromRequest(request, url);
      const c: ConnectionState = {
        id: randomId(),
        ip,
        origin,
        userAgent: base.userAgent,
        url: base.url,
        protocol: base.protocol,
        connectedAt: now(),
        principal: undefined,
        expiresAt: undefined,
        authDeadline: undefined,
        lastActivity: now(),
        closed: false,
        rate: { tat: 0 },
        rateHits: 0,
        rateHitTimes: undefined,
        invalid: 0,
        leases: [],
        terminate: undefined,
        authenticating: false,
        timer: undefined,
        ipKey: key,
        path: url.pathname,
        bannedUntil: undefined,
        banSeen: since,
      };

      if (!credential) {
        if (extractor.firstMessage || options.allowAnonymous) {
          if (extractor.firstMessage) c.authDeadline = now() + extractor.firstMessageTimeoutMs;
          const capped = await acquireCaps(c, undefined, true);
          if (capped) return reject(capped, base, { retryAfter: 5 });
          return accept(c, base);
        }
        return reject('credentials_missing', base, { violation: 'credentials_missing' });
      }
      if (credential.source === 'cookie' && cookieOptions?.csrf) {
        // Over the limit or empty: refused unparsed, before the app's CSRF hook sees it.
        if (!isUsableCredential(credential.value))
          return reject('credentials_invalid', base, { violation: 'credentials_invalid' });
        const token = extractor.csrfToken(request, url);
        if (token === undefined || !(await cookieOptions.csrf.verify(token, credential.value))) {
          return reject('csrf', base, { violation: 'csrf' });
        }
      }

      // 5. verify
      let principal: Principal;
      try {
        principal = await verifyCredential(credential, ip, origin);
      } catch (error) {
        // Only a refused credential is the client's fault; anything else (a `principal` hook
        // whose database is down) is ours: 500 via the outer handler, not "log in again".
        if (!(error instanceof CredentialError)) throw error;
        if (error.expired) return reject('expired', base);
        return reject('credentials_invalid', base, { violation: 'credentials_invalid' });
      }

      // 6. user ban, path binding, caps: the same admission as a later authentication
      const refused = await admit(c, principal, true, since);
      if (refused) {
        const userId = principal.sub;
        if (refused.reason === 'banned')
          return reject('banned', base, {
            userId,
            retryAfter: Math.ceil((refused.until - now()) / 1000),
            message: bannedReason(refused.until),
            ...(banMode ? { mode: banMode } : {}),
          });
        if (refused.reason === 'path_mismatch')
          return reject('path_mismatch', base, { userId, violation: 'path_mismatch' });
        // Nobody can close a connection that is not accepted yet; kept for completeness.
        if (refused.reason === 'closed') return reject('internal', base);
        return reject(refused.reason, base, { userId, retryAfter: 5 });
      }
      c.principal = principal;
      c.expiresAt = principal.expiresAt;
      return accept(c, base);
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        report('store')(error);
        audit({ type: 'store.error', ip, reason: 'store_unavailable' });
        return reject('store_unavailable', base, { retryAfter: retryUnavailable });
      }
      report('upgrade')(error);
      return reject('internal', base);
    }
  };

  const accept = (c: ConnectionState, base: Parameters<typeof reject>[1]): Accept | Reject => {
    // A ban seen while this handshake awaited the store (placed here or on another instance).
    const banned = dryRun ? undefined : knownBan(c, c.principal?.sub, c.banSeen);
    if (banned !== undefined) {
      releaseLeases(c);
      return reject('banned', base, {
        ...(c.principal ? { userId: c.principal.sub } : {}),
        retryAfter: Math.ceil((banned - now()) / 1000),
        message: bannedReason(banned),
        ...(c.origin !== null ? { mode: 'close' as const } : {}),
      });
    }
    live.set(c.id, c);
    listen();
    startRenewal();
    stats.opened(c.principal?.sub);
    if (c.principal) registerUser(c.principal.sub);
    if (auditing)
      audit({
        type: 'connection.accepted',
        connectionId: c.id,
        ip: c.ip,
        origin: c.origin,
        ...(c.userAgent !== undefined ? { userAgent: c.userAgent } : {}),
        url: c.url,
        ...(c.principal ? { userId: c.principal.sub } : {}),
        ...(c.authDeadline !== undefined ? { detail: { pendingAuth: true } } : {}),
      });
    return { ok: true, connection: c, protocol: c.protocol };
  };

  // ---- message -------------------------------------------------------------------------------

  /** Count and audit one refused message; `closeCode` when the connection closes for it. */
  const messageRejected = (
    c: ConnectionState,
    reason: MessageRejectReason | RuntimeViolation['reason'],
    closeCode?: number,
    detail?: AuditEvent['detail'],
  ): void => {
    stats.messageRejected(reason);
    if (auditing)
      audit({
        type: 'message.rejected',
        connectionId: c.id,
        ip: c.ip,
        ...(c.principal ? { userId: c.principal.sub } : {}),
        reason,
        ...(closeCode !== undefined ? { closeCode } : {}),
        ...(detail ? { detail } : {}),
      });
  };

  const closeWith = (
    c: ConnectionState,
    reason: MessageRejectReason,
    message?: string,
  ): MessageDecision => {
    const code = MESSAGE_CLOSE_CODES[reason];
    messageRejected(c, reason, code);
    return { action: 'close', reason, code, message: message ?? reason.replace(/_/g, ' ') };
  };

  const replyWith = (
    c: ConnectionState,
    reason: MessageRejectReason,
    error: ErrorReply['error'],
    /** The caller already emitted this decision's event (permission.denied): one per decision. */
    audited = false,
  ): MessageDecision => {
    if (audited) stats.messageRejected(reason);
    else messageRejected(c, reason);
    return { action: 'reply', reason, reply: { error } };
  };

  /** An invalid message: reply, or close with 1008 once they repeat. */
  const invalid = (
    c: ConnectionState,
    reason: MessageRejectReason,
    issues?: readonly ReportedIssue[],
  ): MessageDecision => {
    penalize('ip', c.ipKey, 'malformed', c);
    if (++c.invalid >= maxInvalid) return closeWith(c, 'repeated_invalid');
    return replyWith(c, reason, {
      code: 'BAD_REQUEST',
      message:
        reason === 'schema'
          ? 'message does not match the schema'
          : `message refused: ${reason.replace(/_/g, ' ')}`,
      ...(issues ? { issues } : {}),
    });
  };

  /**
   * One more rate refusal for `c`; true when it is the `closeAfterRateHits`-th within
   * {@link RATE_HIT_WINDOW_MS}. A window, not a run: a count reset by one allowed frame let a
   * 1-allowed-in-10 pattern go on for ever, and every refusal still costs the server a reply.
   */
  const countRateHit = (c: ConnectionState, t: number): boolean => {
    if (closeAfterRateHits <= 1) return true;
    // The times of the last `closeAfterRateHits` refusals, in a ring allocated at the first one:
    // the connection is closed when the oldest of them is within the window.
    if (c.rateHitTimes === undefined)
      c.rateHitTimes = new Array<number>(closeAfterRateHits).fill(Number.NEGATIVE_INFINITY);
    const ring = c.rateHitTimes;
    ring[c.rateHits % closeAfterRateHits] = t;
    c.rateHits++;
    // The oldest of the last `closeAfterRateHits` (-Infinity until there are that many).
    return t - ring[c.rateHits % closeAfterRateHits]! <= RATE_HIT_WINDOW_MS;
  };

  const rateLimited = (
    c: ConnectionState,
    reason: 'message_rate' | 'user_message_rate',
    retryAfterMs: number,
  ): MessageDecision | undefined => {
    if (dryRun) {
      audit({ type: 'limit.exceeded', connectionId: c.id, ip: c.ip, reason, dryRun });
      return undefined;
    }
    penalize('ip', c.ipKey, 'message_rate', c);
    if (countRateHit(c, now())) return closeWith(c, reason);
    return replyWith(c, reason, {
      code: REPLIES[reason]!,
      message: 'rate limit exceeded',
      retryAfterMs,
    });
  };

  const authorize = (
    c: ConnectionState,
    value: unknown,
  ): MessageDecision | Promise<MessageDecision> => {
    // Undefined on an anonymous connection: it holds no permission and no resource.
    const principal = c.principal;
    if (m.permission) {
      const required = m.permission(value);
      if (required !== undefined && (!principal || !permissions.has(principal, required))) {
        audit({
          type: 'permission.denied',
          connectionId: c.id,
          ip: c.ip,
          ...(principal ? { userId: principal.sub } : {}),
          detail: { permission: required },
        });
        if (principal) penalize('user', principal.sub, 'permission', c);
        return replyWith(
          c,
          'permission',
          { code: 'FORBIDDEN', message: `permission required: ${required}` },
          true,
        );
      }
    }
    if (m.resource) {
      const resource = m.resource(value);
      if (resource !== undefined) {
        const finish = (ok: boolean): MessageDecision => {
          if (ok) return deliver(value);
          audit({
            type: 'permission.denied',
            connectionId: c.id,
            ip: c.ip,
            ...(principal ? { userId: principal.sub } : {}),
            detail: { resource },
          });
          return replyWith(c, 'permission', { code: 'FORBIDDEN', message: 'access denied' }, true);
        };
        if (!principal) return finish(false);
        const r = permissions.canAccess(principal, resource);
        return r instanceof Promise ? r.then(finish) : finish(r);
      }
    }
    return deliver(value);
  };

  const deliver = (value: unknown): MessageDecision => {
    stats.delivered();
    return { action: 'deliver', value };
  };

  const checkSchema = (
    c: ConnectionState,
    value: unknown,
  ): MessageDecision | Promise<MessageDecision> => {
    if (!m.schema) return authorize(c, value);
    const finish = (
      r: Awaited<ReturnType<typeof validate>>,
    ): MessageDecision | Promise<MessageDecision> =>
      r.ok ? authorize(c, r.value) : invalid(c, 'schema', r.issues);
    const r = validate(m.schema, value, maxIssues);
    return r instanceof Promise ? r.then(finish) : finish(r);
  };

  const authenticate = async (c: ConnectionState, value: unknown): Promise<MessageDecision> => {
    const credential = extractor.fromMessage(value);
    if (!credential) return closeWith(c, 'credentials_missing', 'credentials required');
    c.authenticating = true;
    const since = banSeq;
    try {
      const principal = await verifyCredential(credential, c.ip, c.origin);
      // Closed while the credential was verified: no ban lookup, no lease, no eviction for it.
      if (c.closed) return closeWith(c, 'internal', 'closed');
      const refused = await admit(c, principal, false, since);
      // The socket may have closed in the turns between admit's end and this line.
      if (c.closed) return closeWith(c, 'internal', 'closed');
      if (refused) {
        if (refused.reason === 'closed') return closeWith(c, 'internal', 'closed');
        if (refused.reason === 'banned') {
          c.bannedUntil = refused.until;
          return closeWith(c, 'banned', bannedReason(refused.until));
        }
        if (refused.reason === 'path_mismatch') {
          penalize('ip', c.ipKey, 'path_mismatch', c);
          return closeWith(c, 'path_mismatch', REJECTIONS.path_mismatch.message);
        }
        return closeWith(c, refused.reason, REJECTIONS[refused.reason].message);
      }
      join(c, principal);
      audit({
        type: 'connection.authenticated',
        connectionId: c.id,
        ip: c.ip,
        userId: principal.sub,
      });
      stats.delivered();
      return { action: 'deliver', value, authenticated: true };
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        report('store')(error);
        return closeWith(c, 'store_unavailable', 'service unavailable');
      }
      if (!(error instanceof CredentialError)) {
        report('message')(error);
        return closeWith(c, 'internal', 'internal error');
      }
      if (error.expired) return closeWith(c, 'expired', 'credentials expired');
      penalize('ip', c.ipKey, 'credentials_invalid', c);
      return closeWith(c, 'credentials_invalid', 'invalid credentials');
    } finally {
      c.authenticating = false;
    }
  };

  const message = (
    connection: GuardConnection,
    frame: string | ArrayBuffer | ArrayBufferView,
  ): MessageDecision | Promise<MessageDecision> => {
    const c = connection as ConnectionState;
    try {
      const t = now();
      c.lastActivity = t;
      if (c.closed) return closeWith(c, 'internal', 'closed');
      if (c.bannedUntil !== undefined) return closeWith(c, 'banned', bannedReason(c.bannedUntil));
      if (c.expiresAt !== undefined && t >= c.expiresAt)
        return closeWith(c, 'expired', 'credentials expired');
      const pending = c.principal === undefined && c.authDeadline !== undefined;
      if (pending && t >= c.authDeadline!)
        return closeWith(c, 'auth_timeout', 'authentication timeout');
      // Frames arriving while the credential message is verified are refused: they would run
      // before the connection's identity and caps exist.
      if (c.authenticating)
        return closeWith(c, 'credentials_missing', 'authentication in progress');

      if (frameBytes(frame, maxBytes) > maxBytes) {
        penalize('ip', c.ipKey, 'too_big', c);
        return closeWith(c, 'too_big', 'message too big');
      }
      // tryStep/tryTake: no result object per frame (0 = allowed, else the wait in ms).
      if (messageRate) {
        const wait = tryStep(c.rate, t, messageRate);
        if (wait > 0) {
          const d = rateLimited(c, 'message_rate', wait);
          if (d) return d;
        }
      }
      if (userLimiter && c.principal) {
        const wait = userLimiter.tryTake(c.principal.sub, t);
        if (wait > 0) {
          const d = rateLimited(c, 'user_message_rate', wait);
          if (d) return d;
        }
      }
      if (typeof frame === 'string' && frame.length <= passthroughMax && passthrough.has(frame))
        return deliver(frame);
      if (!json) {
        if (pending) return closeWith(c, 'credentials_missing', 'credentials required');
        return deliver(frame);
      }
      const parsed = parseFrame(frame, maxBytes, maxDepth, maxEntries);
      if (!parsed.ok) {
        if (parsed.problem === 'too_big') return closeWith(c, 'too_big', 'message too big');
        if (pending) return closeWith(c, 'credentials_missing', 'credentials required');
        return invalid(c, parsed.problem);
      }
      if (pending) return settle(c, authenticate(c, parsed.value));
      return settle(c, checkSchema(c, parsed.value));
    } catch (error) {
      report('message')(error);
      return closeWith(c, 'internal', 'internal error');
    }
  };

  /** An async decision whose hook (schema, canAccess) rejects closes with 1011, never rejects. */
  const settle = (
    c: ConnectionState,
    d: MessageDecision | Promise<MessageDecision>,
  ): MessageDecision | Promise<MessageDecision> =>
    d instanceof Promise
      ? d.then(
          // Closed while the decision was awaited (schema, canAccess, authentication): nothing is
          // delivered for a connection the guard has released. (The transport also drops a
          // decision that reaches a closing socket: it cannot be observed sooner than it settles.)
          (r) => (r.action === 'deliver' && c.closed ? closeWith(c, 'internal', 'closed') : r),
          (error: unknown) => {
            report('message')(error);
            return closeWith(c, 'internal', 'internal error');
          },
        )
      : d;

  // ---- close ---------------------------------------------------------------------------------

  /**
   * A connection never outlives its credential, and an unauthenticated one never outlives its
   * auth deadline, even if it stays silent: a timer closes it (4002 / 4001). It re-reads the
   * deadline when it fires, because an in-band refresh may have moved it.
   */
  const armTimer = (c: ConnectionState): void => {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
    if (c.closed || !c.terminate) return;
    const deadline = c.principal ? c.expiresAt : c.authDeadline;
    if (deadline === undefined) return;
    // At most a minute; a later deadline re-arms when it fires. Node keeps a timer list per
    // distinct duration and, for an unref'd timer, keeps it after clearTimeout until that duration
    // has passed: a duration of its own per connection (exp - now) left ~150 B per closed
    // connection until its token's expiry. Every far deadline waits the same minute: one list.
    const delay = Math.min(Math.max(0, deadline - now()), TIMER_SLICE_MS);
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.closed) return;
      const d = c.principal ? c.expiresAt : c.authDeadline;
      if (d === undefined) return;
      if (now() < d) {
        armTimer(c);
        return;
      }
      const decision = closeWith(
        c,
        c.principal ? 'expired' : 'auth_timeout',
        c.principal ? 'credentials expired' : 'authentication timeout',
      );
      if (decision.action === 'close') c.terminate?.(decision.code, decision.message);
    }, delay);
    (c.timer as { unref?: () => void }).unref?.();
  };

  const close = async (
    connection: GuardConnection,
    code?: number,
    by: CloseInitiator = 'client',
  ): Promise<void> => {
    const c = connection as ConnectionState;
    if (c.closed) return;
    c.closed = true;
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
    live.delete(c.id);
    stopRenewalIfIdle();
    const sub = c.principal?.sub;
    stats.closed(sub);
    if (code !== undefined) stats.closedWith(code, by);
    if (sub !== undefined) {
      const n = (userConnections.get(sub) ?? 1) - 1;
      if (n <= 0) {
        userConnections.delete(sub);
        userLimiter?.delete(sub);
      } else userConnections.set(sub, n);
    }
    try {
      await releaseLeases(c);
    } catch (error) {
      report('close')(error);
    }
    if (auditing)
      audit({
        type: 'connection.closed',
        connectionId: c.id,
        ip: c.ip,
        ...(sub !== undefined ? { userId: sub } : {}),
        ...(code !== undefined ? { closeCode: code } : {}),
        detail: { durationMs: now() - c.connectedAt, by },
      });
  };

  const consume = (connection: GuardConnection, cost: number): LimitResult | undefined => {
    const c = connection as ConnectionState;
    if (!(cost > 0) || dryRun) return undefined;
    const t = now();
    let refused: LimitResult | undefined;
    if (messageRate) {
      const step = gcraStep(c.rate.tat, t, messageRate, cost);
      if (step.result.allowed) c.rate.tat = step.tat;
      else refused = step.result;
    }
    if (!refused && userLimiter && c.principal) {
      const r = userLimiter.take(c.principal.sub, t, cost);
      if (!r.allowed) refused = r;
    }
    // A refused batch counts like a refused frame: persistent offenders are closed with 4029.
    if (refused && countRateHit(c, t) && !c.closed) {
      const d = closeWith(c, 'message_rate');
      if (d.action === 'close') c.terminate?.(d.code, d.message);
    }
    return refused;
  };

  const self: Guard = {
    upgrade,
    message,
    consume,
    close,
    hooks: (app, hookOptions) => guardHooks(self, app, hookOptions),
    maxBytes,
    store: rawStore,
    violation(connection: GuardConnection, v: RuntimeViolation): void {
      const c = connection as ConnectionState;
      messageRejected(c, v.reason, v.closeCode, { by: 'runtime' });
      penalize('ip', c.ipKey, v.reason, c);
    },
    attach(connection: GuardConnection, terminate: Terminate): void {
      const c = connection as ConnectionState;
      c.terminate = terminate;
      // Banned while the socket was opening.
      if (c.bannedUntil !== undefined) {
        terminate(CloseCode.Banned, bannedReason(c.bannedUntil));
        return;
      }
      armTimer(c);
    },
    async refresh(connection: GuardConnection, token: string): Promise<Principal> {
      const c = connection as ConnectionState;
      if (!jwt) throw new CredentialError('tokens are not enabled');
      if (c.closed) throw new CredentialError('connection closed');
      const since = banSeq;
      const principal = await verifyCredential(
        { kind: 'token', source: 'first-message', value: token },
        c.ip,
        c.origin,
      );
      if (c.principal && principal.sub !== c.principal.sub)
        throw new CredentialError('token is for another subject');
      // The same admission as a handshake: a banned user cannot stay by refreshing, and an
      // anonymous or pending connection that becomes a user takes that user's lease and counts.
      const refused = await admit(c, principal, false, since);
      // Closed in the turns since admit ended (leases taken meanwhile went back in acquireCaps).
      if (c.closed) throw new CredentialError('connection closed');
      if (refused) {
        if (refused.reason === 'banned') {
          c.bannedUntil = refused.until;
          c.terminate?.(CloseCode.Banned, bannedReason(refused.until));
          throw new BannedError(refused.until);
        }
        if (refused.reason === 'closed') throw new CredentialError('connection closed');
        if (refused.reason === 'path_mismatch')
          throw new CredentialError('token is for another path');
        throw new GuardError('ERR_WSGUARD_CAP', REJECTIONS[refused.reason].message);
      }
      // Another refresh joined while this one awaited: the identity is decided; give back the
      // user lease this one took.
      if (c.principal && principal.sub !== c.principal.sub) {
        const k = `lease:user:${principal.sub}`;
        c.leases = c.leases.filter(([key]) => key !== k);
        await store.releaseLease(k, c.id).catch(reportClose);
        throw new CredentialError('token is for another subject');
      }
      join(c, principal);
      audit({ type: 'token.refreshed', connectionId: c.id, ip: c.ip, userId: principal.sub });
      return principal;
    },
    async verifyToken(token: string): Promise<Principal> {
      if (!jwt) throw new CredentialError('tokens are not enabled');
      if (!isUsableCredential(token)) throw new CredentialError('credential too long or empty');
      const principal = await jwt.verify(token);
      const mapped = options.principal ? await options.principal(principal) : principal;
      return { ...mapped, permissions: permissions.expand(mapped.roles, mapped.permissions) };
    },
    async issueTicket(principal: Principal, opts?: IssueTicketOptions): Promise<IssuedTicket> {
      if (!tickets)
        throw new GuardConfigError([
          'tickets: enable tickets in createGuard options to issue them',
        ]);
      const issued = await tickets.issue(principal, opts);
      audit({
        type: 'ticket.issued',
        userId: principal.sub,
        ...(opts?.ip ? { ip: opts.ip } : {}),
        ...(opts?.origin !== undefined ? { origin: opts.origin } : {}),
      });
      return issued;
    },
    can: (principal, permission) => permissions.has(principal, permission),
    checkOrigin: (origin) => origins.check(origin),
    canAccess: async (principal, resource) => permissions.canAccess(principal, resource),
    async ban(subject: Subject, id: string, ms?: number): Promise<number> {
      const key = subject === 'ip' ? keyOfIp(id) : id;
      const until = await bans.ban(subject, key, ms);
      stats.banned();
      audit({
        type: 'ban.started',
        ...(subject === 'ip' ? { ip: id } : { userId: id }),
        reason: 'admin',
        detail: {
          subject,
          ...(key !== id ? { key } : {}),
          until: new Date(until).toISOString(),
        },
      });
      enforceBan(subject, key, until);
      return until;
    },
    async unban(subject: Subject, id: string): Promise<void> {
      const key = subject === 'ip' ? keyOfIp(id) : id;
      recentBans.delete(`${subject}:${key}`);
      await bans.unban(subject, key);
      await publishControl('unban', subject, key, 0);
    },
    bannedUntil(subject: Subject, id: string): Promise<number | undefined> {
      return bans.bannedUntil(subject, subject === 'ip' ? keyOfIp(id) : id);
    },
    kick(
      userId: string,
      code: number = CloseCode.Forbidden,
      reason = 'removed by an administrator',
    ): number {
      let n = 0;
      for (const c of live.values()) {
        if (c.principal?.sub === userId && c.terminate) {
          c.terminate(code, reason);
          n++;
        }
      }
      if (n > 0)
        audit({
          type: 'connection.evicted',
          userId,
          reason: 'kicked',
          closeCode: code,
          detail: { connections: n },
        });
      return n;
    },
    connections: () => live.values(),
    stats: () => stats.snapshot(),
    metrics: () => stats.prometheus(),
    ready: async () => {
      await jwt?.ready();
    },
    async shutdown(reason = 'server shutting down'): Promise<void> {
      const all = [...live.values()];
      for (const c of all) c.terminate?.(CloseCode.GoingAway, reason);
      await Promise.all(all.map((c) => close(c, CloseCode.GoingAway, 'guard')));
      if (renewTimer !== undefined) clearInterval(renewTimer);
      renewTimer = undefined;
      const sub = subscription;
      subscription = undefined;
      subscribed = false;
      polling = false;
      if (sweepRetry !== undefined) clearTimeout(sweepRetry);
      sweepRetry = undefined;
      await sub?.close().catch(report('store'));
    },
  };
  return self;
}
