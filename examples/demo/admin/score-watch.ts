/**
 * Who is close to a ban: the addresses and users the guard refused lately (from the audit events),
 * each with its penalty score now (`guard.penaltyScore`, one store read each). Bounded: the most
 * recently refused subjects only, so an attacker cycling addresses cannot grow it.
 */
import type { AuditEvent, Guard } from '../../../src/mod.ts';
import { refusalKind } from './refusal-table.ts';

/** One row of the "close to a ban" table. */
export interface ScoreRow {
  readonly subject: 'ip' | 'user';
  readonly id: string;
  /** The score now (decayed) and the threshold where a ban starts. */
  readonly score: number;
  readonly threshold: number;
}

/** Subjects remembered (most recently refused first out of the map's end). */
const MAX_SUBJECTS = 100;
/** Rows shown: at least this share of the threshold (a score of 0.2 is nobody's concern). */
const SHOWN_FROM = 0.1;

/** The subjects refused lately, and their scores on demand. */
export class ScoreWatch {
  readonly #seen = new Map<string, { subject: 'ip' | 'user'; id: string }>();

  /** Remember the address and user of a refusal. */
  record(event: AuditEvent): void {
    if (refusalKind(event.type) === undefined && event.type !== 'ban.started') return;
    if (event.ip !== undefined) this.#remember('ip', event.ip);
    if (event.userId !== undefined) this.#remember('user', event.userId);
  }

  #remember(subject: 'ip' | 'user', id: string): void {
    const key = `${subject}:${id}`;
    this.#seen.delete(key);
    this.#seen.set(key, { subject, id });
    if (this.#seen.size > MAX_SUBJECTS) this.#seen.delete(this.#seen.keys().next().value as string);
  }

  /** The remembered subjects' scores now, highest first; those near zero are left out. */
  async rows(guard: Guard): Promise<ScoreRow[]> {
    const read = [...this.#seen.values()].map(async ({ subject, id }) => {
      // A store that cannot answer leaves the row out; the rest of the view still draws.
      const s = await guard.penaltyScore(subject, id).catch(() => undefined);
      return s && s.score >= s.threshold * SHOWN_FROM ? { subject, id, ...s } : undefined;
    });
    const rows = (await Promise.all(read)).filter((r): r is ScoreRow => r !== undefined);
    return rows.sort((a, b) => b.score - a.score);
  }
}
