/**
 * A violation's consequence: points on the IP's or user's score, and — past the threshold — a
 * ban that is audited, counted and enforced on every instance. Fire and forget: a violation never
 * waits for the store, and a store failure is reported, never thrown.
 *
 * @module
 */
import type { BanWatch } from './ban-watch.ts';
import type { ConnectionState } from './connection.ts';
import type { GuardContext } from './context.ts';
import type { Penalties, Subject, Violation } from './penalties.ts';

/** Score `violation` against `id` (an IP key or a user id); `context` names the client. */
export type Penalize = (
  subject: Subject,
  id: string | undefined,
  violation: Violation,
  context: Partial<ConnectionState>,
) => void;

/** The penalizer of one guard; `penalties` undefined (`penalties: false`) scores nothing. */
export function createPenalizer(
  ctx: GuardContext,
  penalties: Penalties | undefined,
  watch: BanWatch,
): Penalize {
  const { stats, audit, report } = ctx;
  const dryRun = ctx.settings.dryRun;
  return (subject, id, violation, context) => {
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
      if (!dryRun) watch.enforce(subject, id, r.bannedUntil);
    }, report('store'));
  };
}
