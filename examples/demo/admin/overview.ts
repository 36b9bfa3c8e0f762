/**
 * What the admin view shows, in one answer to `admin.overview`: refusals by reason and origin,
 * current bans (this instance's ban book), penalty scores close to a ban, open connections, and
 * the traffic chart's buckets.
 * Fed by the guard's audit sink; read by the router.
 */
import type { AuditEvent, Guard } from '../../../src/mod.ts';
import { BanBook, type BanEntry, type BanSubject } from './ban-book.ts';
import { type RefusalRow, RefusalTable } from './refusal-table.ts';
import { type ScoreRow, ScoreWatch } from './score-watch.ts';
import type { SessionBook } from './session-book.ts';
import { type TrafficBucket, TrafficSeries } from './traffic-series.ts';

/** One open connection as the admin view lists it. */
export interface ConnectionRow {
  readonly id: string;
  readonly user: string | null;
  readonly ip: string;
  readonly origin: string | null;
  /** Opened at (ms since epoch). */
  readonly since: number;
  /** Live tRPC subscriptions, when the connection has a tRPC session. */
  readonly subscriptions: number | null;
}

/** The admin view's data. */
export interface AdminOverview {
  /** This instance's clock (ms since epoch), for ages and "last seen". */
  readonly now: number;
  readonly refusals: RefusalRow[];
  readonly bans: BanEntry[];
  /** Addresses and users refused lately, with their penalty score now: who is close to a ban. */
  readonly scores: ScoreRow[];
  readonly connections: ConnectionRow[];
  readonly traffic: TrafficBucket[];
}

/** At most this many connections are listed: the view is for a person, not a dump. */
const MAX_CONNECTIONS = 200;

/** The admin view's books, fed by the audit sink. */
export class AdminBooks {
  readonly refusals = new RefusalTable();
  readonly bans = new BanBook();
  readonly traffic = new TrafficSeries();
  readonly scores = new ScoreWatch();

  /** Enter one audit event into every book. */
  record(event: AuditEvent): void {
    this.refusals.record(event);
    this.bans.record(event);
    this.traffic.record(event);
    this.scores.record(event);
  }

  /** Lift a ban on the guard and take it out of the book. */
  async unban(guard: Guard, subject: BanSubject, id: string): Promise<void> {
    await guard.unban(subject, id);
    this.bans.forget(subject, id);
  }

  /** The view's data now. */
  async overview(guard: Guard, sessions: SessionBook): Promise<AdminOverview> {
    this.traffic.sampleMessages(guard.stats().messages);
    const connections: ConnectionRow[] = [];
    for (const c of guard.connections()) {
      if (c.closed) continue;
      connections.push({
        id: c.id,
        user: c.principal?.sub ?? null,
        ip: c.ip,
        origin: c.origin,
        since: c.connectedAt,
        subscriptions: sessions.subscriptions(c.id) ?? null,
      });
      if (connections.length >= MAX_CONNECTIONS) break;
    }
    return {
      now: Date.now(),
      refusals: this.refusals.rows(),
      bans: this.bans.list(),
      scores: await this.scores.rows(guard),
      connections,
      traffic: this.traffic.buckets(),
    };
  }
}
