/**
 * The admin view's list of current bans. The guard cannot list its bans (the store holds them by
 * key, and only answers "until when?" for a given address or user), so each instance keeps this
 * book from the `ban.started` audit events it sees: bans started on another instance, or before
 * this one started, are not in it. Lifted bans leave it when lifted here, expired ones on read.
 */
import type { AuditEvent } from '../../../src/mod.ts';

/** Who a ban covers. */
export type BanSubject = 'ip' | 'user';

/** One ban in the book. */
export interface BanEntry {
  readonly subject: BanSubject;
  /** The address or user id, as `guard.unban()` takes it. */
  readonly id: string;
  /** End (ms since epoch). */
  readonly until: number;
  /** The violation that crossed the threshold, or `admin`. */
  readonly reason: string;
  /** When it started (ms since epoch). */
  readonly since: number;
}

/** An address or user id is short; the book is bounded so a flood of bans cannot grow it. */
const MAX_BANS = 500;

/** This instance's bans, from the audit stream. */
export class BanBook {
  readonly #bans = new Map<string, BanEntry>();

  /** Enter a `ban.started` event (dry-run bans are not enforced, so not entered). */
  record(event: AuditEvent): void {
    if (event.type !== 'ban.started' || event.dryRun === true) return;
    const subject = event.detail?.['subject'];
    const until = Date.parse(String(event.detail?.['until'] ?? ''));
    if ((subject !== 'ip' && subject !== 'user') || !Number.isFinite(until)) return;
    const id = subject === 'ip' ? event.ip : event.userId;
    if (typeof id !== 'string' || id === '') return;
    const since = Date.parse(event.time);
    const key = `${subject}:${id}`;
    this.#bans.delete(key);
    this.#bans.set(key, {
      subject,
      id,
      until,
      reason: event.reason ?? 'unknown',
      since: Number.isFinite(since) ? since : Date.now(),
    });
    if (this.#bans.size > MAX_BANS) this.#bans.delete(this.#bans.keys().next().value as string);
  }

  /** The ban was lifted. */
  forget(subject: BanSubject, id: string): void {
    this.#bans.delete(`${subject}:${id}`);
  }

  /** Bans still running at `now`, newest first; ended ones are dropped. */
  list(now = Date.now()): BanEntry[] {
    for (const [key, ban] of this.#bans) if (ban.until <= now) this.#bans.delete(key);
    return [...this.#bans.values()].reverse();
  }
}
