/**
 * The administrator's calls on a guard: ban and unban (enforced on every instance on the store),
 * look a ban or a penalty score up, kick a user's connections, issue a ticket, and shut down.
 *
 * @module
 */
import type { IssuedTicket, IssueTicketOptions, Tickets } from '../auth/tickets.ts';
import { CloseCode } from '../core/codes.ts';
import { utf8Prefix } from '../core/encoding.ts';
import { GuardConfigError } from '../core/errors.ts';
import type { BanWatch } from '../state/ban-watch.ts';
import type { GuardContext } from '../state/context.ts';
import type { LeaseRenewal } from '../state/lease-renewal.ts';
import type { Penalties } from '../state/penalties.ts';
import type { Release } from '../state/release.ts';
import type { Guard } from './types.ts';

/** The administrator's part of {@link Guard}. */
export type AdminCalls = Pick<
  Guard,
  'ban' | 'unban' | 'bannedUntil' | 'penaltyScore' | 'kick' | 'issueTicket' | 'shutdown'
>;

/** The administrator's calls of one guard. */
export function createAdmin(
  ctx: GuardContext,
  parts: {
    bans: Penalties;
    /** Whether violations are scored (`penalties` not `false`). */
    scoring: boolean;
    watch: BanWatch;
    tickets: Tickets | undefined;
    release: Release;
    renewal: LeaseRenewal;
  },
): AdminCalls {
  const { stats, audit, registry, keyOfIp } = ctx;
  const { bans, scoring, watch, tickets, release, renewal } = parts;
  return {
    async ban(subject, id, ms) {
      const key = subject === 'ip' ? keyOfIp(id) : id;
      const until = await bans.ban(subject, key, ms);
      stats.banned();
      audit({
        type: 'ban.started',
        ...(subject === 'ip' ? { ip: id } : { userId: id }),
        reason: 'admin',
        detail: { subject, ...(key !== id ? { key } : {}), until: new Date(until).toISOString() },
      });
      watch.enforce(subject, key, until);
      return until;
    },
    async unban(subject, id) {
      const key = subject === 'ip' ? keyOfIp(id) : id;
      watch.forget(subject, key);
      await bans.unban(subject, key);
      await watch.announceUnban(subject, key);
    },
    bannedUntil: (subject, id) => bans.bannedUntil(subject, subject === 'ip' ? keyOfIp(id) : id),
    penaltyScore: scoreReader(bans, scoring, keyOfIp),
    kick(userId, code = CloseCode.Forbidden, reason = 'removed by an administrator') {
      let n = 0;
      for (const c of registry.live.values()) {
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
    async issueTicket(principal, opts?: IssueTicketOptions): Promise<IssuedTicket> {
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
    async shutdown(reason = 'server shutting down', options = {}) {
      const all = [...registry.live.values()];
      const windowMs = options.reconnectWindowMs ?? ctx.settings.reconnectWindowMs;
      for (const c of all) c.terminate?.(CloseCode.GoingAway, withRetryHint(reason, windowMs));
      await Promise.all(all.map((c) => release(c, CloseCode.GoingAway, 'guard')));
      renewal.stop();
      await watch.close();
    },
  };
}

/**
 * A 1001's reason with a reconnect delay drawn over `windowMs` (the client's `retryHintMs` reads
 * it), kept within a close reason's 123 bytes: the hint is never the part cut.
 */
export function withRetryHint(reason: string, windowMs: number): string {
  if (!(windowMs > 0)) return reason;
  const hint = `; retry in ${Math.floor(Math.random() * windowMs)} ms`;
  return `${utf8Prefix(reason, 123 - hint.length)}${hint}`;
}

/** `guard.penaltyScore`: the score now and the threshold, `undefined` when nothing is scored. */
function scoreReader(
  bans: Penalties,
  scoring: boolean,
  keyOfIp: (ip: string) => string,
): AdminCalls['penaltyScore'] {
  return async (subject, id) => {
    if (!scoring) return undefined;
    const score = await bans.score(subject, subject === 'ip' ? keyOfIp(id) : id);
    return { score, threshold: bans.threshold };
  };
}
