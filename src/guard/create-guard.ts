/**
 * `createGuard`, the composition root: it resolves the options once into one context (settings,
 * clock, store, registry, stats, audit) and hands it to the small factories that make up the
 * pipeline — the upgrade decision (handshake/), the message decision (frames/), caps, bans,
 * deadlines and release (state/), and the admin calls (guard/). What an adapter calls:
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
import { createJwtVerifier } from '../auth/jwt.ts';
import { createPermissions } from '../auth/permissions.ts';
import { createTickets } from '../auth/tickets.ts';
import { bannedReason } from '../core/ban-reason.ts';
import { CloseCode } from '../core/codes.ts';
import { randomId } from '../core/encoding.ts';
import { GuardConfigError } from '../core/errors.ts';
import { LocalLimiter } from '../core/rate-limit.ts';
import { createMessageChecks } from '../frames/authorize.ts';
import { createFirstMessageAuth } from '../frames/first-message.ts';
import { createInvalid, createMessageDecision } from '../frames/message.ts';
import { createRateRefusals } from '../frames/rate-refusals.ts';
import { createVerdicts } from '../frames/verdicts.ts';
import { createCredentialExtractor } from '../handshake/credentials.ts';
import { createOriginMatcher } from '../handshake/origin.ts';
import { createReject } from '../handshake/reject.ts';
import { createUpgrade } from '../handshake/upgrade.ts';
import { createCredentialVerifier } from '../handshake/verify-credential.ts';
import { createAuditEmitter } from '../observability/audit.ts';
import { createReporter } from '../observability/report.ts';
import { Stats } from '../observability/stats.ts';
import { createAdmission } from '../state/admission.ts';
import { createBanWatch } from '../state/ban-watch.ts';
import { createCaps } from '../state/caps.ts';
import type { ConnectionState } from '../state/connection.ts';
import { createDeadlines } from '../state/deadlines.ts';
import { ipKey } from '../state/ip-key.ts';
import { createLeaseRenewal } from '../state/lease-renewal.ts';
import { createPenalizer } from '../state/penalize.ts';
import { createPenalties } from '../state/penalties.ts';
import { createRegistry } from '../state/registry.ts';
import { createRelease } from '../state/release.ts';
import { SharedUserRate, type UserRateLimiter } from '../state/shared-user-rate.ts';
import { guardHooks } from '../transport/hooks.ts';
import { createAdmin } from './admin.ts';
import { diagnose } from './doctor.ts';
import { createHealth } from './health.ts';
import { DEFAULTS, type GuardOptions } from './options.ts';
import { describePosture } from './posture.ts';
import { createRefresh } from './refresh.ts';
import { resolveSettings } from './settings.ts';
import { buildStore, secretParamsOf } from './store-setup.ts';
import type { Guard } from './types.ts';

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
// size-exception: the composition root lists every part once, in dependency order; splitting it
// would only move the wiring elsewhere (each part is its own small factory).
export function createGuard(options: GuardOptions): Guard {
  const problems = diagnose(options);
  if (problems.length > 0) throw new GuardConfigError(problems);
  const now = options.now ?? Date.now;
  const report = createReporter(options.onError);
  const secretParams = secretParamsOf(options);
  const audit = createAuditEmitter(options.audit ?? 'console', secretParams, report('audit'));
  const ipv6Prefix = options.ipv6Prefix ?? DEFAULTS.ipv6Prefix;
  const settings = resolveSettings(options);
  const { raw, store } = buildStore(options, now, report, audit);
  const ctx = {
    settings,
    now,
    store,
    registry: createRegistry(),
    stats: new Stats(),
    audit,
    auditing: options.audit !== false,
    report,
    keyOfIp: (ip: string): string => ipKey(ip, ipv6Prefix),
    instanceId: randomId(),
  };
  const { stats } = ctx;

  // Identity: who may connect.
  const ticketsEnabled = Boolean(options.tickets);
  const tickets = ticketsEnabled
    ? createTickets(store, typeof options.tickets === 'object' ? options.tickets : {}, now)
    : undefined;
  const jwt = options.jwt ? createJwtVerifier(options.jwt) : undefined;
  const permissions = createPermissions(options.permissions);
  const verifier = createCredentialVerifier({
    tickets,
    jwt,
    permissions,
    principal: options.principal,
  });
  const extractor = createCredentialExtractor(
    options.credentials ?? { header: Boolean(options.jwt) },
    ticketsEnabled,
  );

  // State: bans, penalties, caps, deadlines. The ban list is read even with penalties off:
  // `penalties: false` stops automatic scoring, but an admin's `guard.ban()` must still hold.
  const penalties =
    options.penalties === false ? undefined : createPenalties(store, options.penalties ?? {}, now);
  const bans = penalties ?? createPenalties(store, {}, now);
  const watch = createBanWatch(ctx, bans);
  const penalize = createPenalizer(ctx, penalties, watch);
  const caps = createCaps(ctx);
  const renewal = createLeaseRenewal(ctx, () => watch.poll());
  const verdicts = createVerdicts(ctx);
  const expire = (c: ConnectionState): void => {
    const d = c.principal
      ? verdicts.close(c, 'expired', 'credentials expired')
      : verdicts.close(c, 'auth_timeout', 'authentication timeout');
    if (d.action === 'close') c.terminate?.(d.code, d.message);
  };
  const deadlines = createDeadlines(now, expire);
  const admission = createAdmission(ctx, { bans, watch, caps, deadlines });
  // A shared store holds the per-user budget for every instance (leased in slices); alone, the
  // exact local limiter is enough and costs no store call.
  const userLimiter: UserRateLimiter | undefined = !settings.userRate
    ? undefined
    : raw.shared
      ? new SharedUserRate({ store, rule: settings.userRate, now, onError: report('store') })
      : new LocalLimiter(settings.userRate);
  const release = createRelease(ctx, { caps, deadlines, renewal, userLimiter });

  // Frames: what a connection may do.
  const rates = createRateRefusals(ctx, { verdicts, penalize, userLimiter });
  const invalid = createInvalid(settings.maxInvalid, verdicts, penalize);
  const check = createMessageChecks(ctx, {
    checks: options.messages ?? {},
    permissions,
    verdicts,
    penalize,
    invalid,
  });
  const authenticate = createFirstMessageAuth(ctx, {
    extractor,
    verifier,
    admission,
    watch,
    verdicts,
    penalize,
  });
  const origins = createOriginMatcher({
    allow: options.origins ?? [],
    ...(options.missingOrigin ? { missing: options.missingOrigin } : {}),
    ...(options.nullOrigin ? { null: options.nullOrigin } : {}),
    ...(options.dangerouslyAllowAnyOrigin ? { dangerouslyAllowAnyOrigin: true } : {}),
  });
  const upgrade = createUpgrade(ctx, {
    origins,
    extractor,
    cookie: options.credentials?.cookie,
    verifier,
    bans,
    watch,
    caps,
    admission,
    renewal,
    reject: createReject(ctx, penalize),
    secretParams,
  });
  const message = createMessageDecision(ctx, {
    verdicts,
    rates,
    penalize,
    invalid,
    check,
    authenticate,
    userLimiter,
  });

  const admin = createAdmin(ctx, {
    bans,
    scoring: penalties !== undefined,
    watch,
    tickets,
    release,
    renewal,
  });
  // Set by shutdown(): readiness answers 503 from then on.
  let closing = false;
  const self: Guard = {
    upgrade,
    message,
    consume: (connection, cost) => rates.consume(connection as ConnectionState, cost),
    close: (connection, code, by) => release(connection as ConnectionState, code, by),
    hooks: (app, hookOptions) => guardHooks(self, app, hookOptions),
    maxBytes: settings.maxBytes,
    store: raw,
    describe: () => describePosture(options, settings, raw),
    issuesTickets: ticketsEnabled,
    violation(connection, v) {
      const c = connection as ConnectionState;
      verdicts.rejected(c, v.reason, v.closeCode, { by: 'runtime' });
      penalize('ip', c.ipKey, v.reason, c);
    },
    attach(connection, terminate) {
      const c = connection as ConnectionState;
      c.terminate = terminate;
      // Banned while the socket was opening.
      if (c.bannedUntil !== undefined) terminate(CloseCode.Banned, bannedReason(c.bannedUntil));
      else deadlines.arm(c);
    },
    refresh: createRefresh(ctx, { tokens: jwt !== undefined, verifier, admission, watch }),
    verifyToken: verifier.verifyToken,
    can: (principal, permission) => permissions.has(principal, permission),
    checkOrigin: (origin) => origins.check(origin),
    canAccess: async (principal, resource) => permissions.canAccess(principal, resource),
    ...admin,
    shutdown: (reason, options) => {
      closing = true;
      return admin.shutdown(reason, options);
    },
    health: createHealth(raw, stats, () => closing),
    connections: () => ctx.registry.live.values(),
    stats: () => stats.snapshot(),
    metrics: () => stats.prometheus(),
    ready: async () => {
      await jwt?.ready();
    },
  };
  return self;
}
