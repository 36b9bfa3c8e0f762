/**
 * Counters and a snapshot of the guard's state, and the same as Prometheus text. Local to one
 * process: on several instances, scrape each one (Prometheus sums them).
 *
 * Every label takes its value from a fixed set, so nothing a client does can create a series:
 * rejection reasons are the contract's enums (anything else counts as `other`); the guard's own
 * closes keep their code only when it is one of the contract table's (else `other`); closes made
 * by the client or by the app are counted apart, by class of code ({@link closeClassOf}), because
 * a client chooses its close code freely (4030 included) and must not be counted as the guard.
 *
 * @module
 */
import {
  CloseCode,
  MESSAGE_CLOSE_CODES,
  type MessageRejectReason,
  REJECTIONS,
  type RejectReason,
} from '../core/codes.ts';
import type { RuntimeViolation } from '../core/runtime-violation.ts';

/**
 * Who closed a connection: `guard` (its own decision, or the runtime refusing a frame over the
 * guard's limits), `app` (the application's own `peer.close`, the tRPC bridge's included), or
 * `client` (the client, the network, or anyone a caller of `guard.close` did not name).
 */
export type CloseInitiator = 'guard' | 'app' | 'client';

/**
 * The class of a close code not chosen by the guard (RFC 6455 §7.4): `normal` 1000,
 * `going_away` 1001, `no_status` 1005, `abnormal` 1006, `error` the other protocol codes
 * (1002–1015), `registered` 3000–3999, `private` 4000–4999, `invalid` anything else.
 */
export type CloseClass =
  | 'normal'
  | 'going_away'
  | 'error'
  | 'no_status'
  | 'abnormal'
  | 'registered'
  | 'private'
  | 'invalid';

/** The class of a close code (see {@link CloseClass}); total over every number. */
export function closeClassOf(code: number): CloseClass {
  if (!Number.isInteger(code)) return 'invalid';
  if (code === 1000) return 'normal';
  if (code === 1001) return 'going_away';
  if (code === 1005) return 'no_status';
  if (code === 1006) return 'abnormal';
  if (code >= 1002 && code <= 1015 && code !== 1004) return 'error';
  if (code >= 3000 && code <= 3999) return 'registered';
  if (code >= 4000 && code <= 4999) return 'private';
  return 'invalid';
}

/**
 * The codes the guard's own closes are counted under: the contract table, and what a runtime
 * sends when it refuses a frame for the guard (1002, 1007; 1006 on Deno, which sends none).
 */
const GUARD_CODES: ReadonlySet<number> = new Set<number>([
  ...Object.values(CloseCode),
  1002,
  1006,
  1007,
]);

/** Reasons a message can be refused for: the contract's, and the runtime's own refusals. */
type MessageReason = MessageRejectReason | RuntimeViolation['reason'];

/** The label for a value outside its fixed set. */
const OTHER = 'other';

/** A point-in-time view of the guard. */
export interface StatsSnapshot {
  /** Open connections on this instance. */
  readonly connections: number;
  /** Distinct users with at least one open connection. */
  readonly users: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Upgrades refused since start, by reason (`other` for a reason outside the contract). */
  readonly rejections: Readonly<Record<string, number>>;
  /** Messages delivered to the app since start. */
  readonly messages: number;
  /** Messages refused since start, by reason (`other` for a reason outside the contract). */
  readonly messageRejections: Readonly<Record<string, number>>;
  /**
   * Connections closed by the guard since start, by close code: codes of the contract table
   * (and the runtime's refusal codes), `other` for any other code the guard was asked to use.
   */
  readonly closes: Readonly<Record<string, number>>;
  /** Connections closed by the client (or the network) since start, by {@link CloseClass}. */
  readonly clientCloses: Readonly<Partial<Record<CloseClass, number>>>;
  /** Connections closed by the application itself since start, by {@link CloseClass}. */
  readonly appCloses: Readonly<Partial<Record<CloseClass, number>>>;
  /** Bans started since start. */
  readonly bans: number;
  /** Start of counting (ISO). */
  readonly since: string;
  /** The last readiness probe of the store (`guard.health()`), once one ran. */
  readonly store?: { readonly up: boolean; readonly latencyMs: number; readonly at: string };
}

const bump = <K>(map: Map<K, number>, key: K): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

/** The live counters. */
export class Stats {
  #connections = 0;
  #accepted = 0;
  #messages = 0;
  #bans = 0;
  readonly #users = new Map<string, number>();
  readonly #rejections = new Map<string, number>();
  readonly #messageRejections = new Map<string, number>();
  readonly #closes = new Map<string, number>();
  readonly #clientCloses = new Map<CloseClass, number>();
  readonly #appCloses = new Map<CloseClass, number>();
  readonly #since = new Date().toISOString();
  #store: { up: boolean; latencyMs: number; at: string } | undefined;

  /** A connection opened (for `userId`, when known). */
  opened(userId: string | undefined): void {
    this.#connections++;
    this.#accepted++;
    if (userId !== undefined) this.userJoined(userId);
  }

  /** A pending connection authenticated as `userId`. */
  userJoined(userId: string): void {
    bump(this.#users, userId);
  }

  /** A connection closed. */
  closed(userId: string | undefined): void {
    this.#connections = Math.max(0, this.#connections - 1);
    if (userId === undefined) return;
    const n = (this.#users.get(userId) ?? 1) - 1;
    if (n <= 0) this.#users.delete(userId);
    else this.#users.set(userId, n);
  }

  /** An upgrade was refused. A reason outside the contract is counted as `other`. */
  rejected(reason: RejectReason): void {
    bump(this.#rejections, Object.hasOwn(REJECTIONS, reason) ? reason : OTHER);
  }

  /** A message reached the app. */
  delivered(): void {
    this.#messages++;
  }

  /** A message was refused. A reason outside the contract is counted as `other`. */
  messageRejected(reason: MessageReason): void {
    const known = reason === 'protocol' || Object.hasOwn(MESSAGE_CLOSE_CODES, reason);
    bump(this.#messageRejections, known ? reason : OTHER);
  }

  /**
   * A connection closed with `code`, by `by`. Only the guard's closes count by code (and only
   * the contract's codes by name); the client's and the app's count by class of code.
   */
  closedWith(code: number, by: CloseInitiator): void {
    if (by === 'guard') bump(this.#closes, GUARD_CODES.has(code) ? String(code) : OTHER);
    else bump(by === 'app' ? this.#appCloses : this.#clientCloses, closeClassOf(code));
  }

  /** A readiness probe of the store ended: whether it answered, and how long it took. */
  storeChecked(up: boolean, latencyMs: number): void {
    this.#store = { up, latencyMs, at: new Date().toISOString() };
  }

  /** A ban started. */
  banned(): void {
    this.#bans++;
  }

  /** Open connections right now. */
  get connections(): number {
    return this.#connections;
  }

  /** A plain-object snapshot, safe to serialise. */
  snapshot(): StatsSnapshot {
    return {
      connections: this.#connections,
      users: this.#users.size,
      accepted: this.#accepted,
      rejections: Object.fromEntries(this.#rejections),
      messages: this.#messages,
      messageRejections: Object.fromEntries(this.#messageRejections),
      closes: Object.fromEntries(this.#closes),
      clientCloses: Object.fromEntries(this.#clientCloses),
      appCloses: Object.fromEntries(this.#appCloses),
      bans: this.#bans,
      since: this.#since,
      ...(this.#store ? { store: { ...this.#store } } : {}),
    };
  }

  /** Prometheus text exposition format (version 0.0.4). */
  prometheus(prefix = 'wsguard'): string {
    const s = this.snapshot();
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [string, number][]): void => {
      lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
      for (const [labels, value] of rows) lines.push(`${prefix}_${name}${labels} ${value}`);
    };
    // Label values come from fixed sets already; the escape is a second line of defence.
    const labelled = (label: string, rec: Readonly<Record<string, number>>): [string, number][] =>
      Object.entries(rec).map(([k, v]) => [`{${label}="${k.replace(/["\\\n]/g, '_')}"}`, v]);
    metric('connections', 'gauge', 'Open WebSocket connections.', [['', s.connections]]);
    metric('users', 'gauge', 'Distinct users with an open connection.', [['', s.users]]);
    metric('connections_accepted_total', 'counter', 'Connections accepted.', [['', s.accepted]]);
    metric(
      'upgrades_rejected_total',
      'counter',
      'Upgrades refused, by reason.',
      labelled('reason', s.rejections),
    );
    metric('messages_total', 'counter', 'Messages delivered to the application.', [
      ['', s.messages],
    ]);
    metric(
      'messages_rejected_total',
      'counter',
      'Messages refused, by reason.',
      labelled('reason', s.messageRejections),
    );
    metric(
      'closes_total',
      'counter',
      'Connections closed by the guard, by close code (codes outside the contract: "other").',
      labelled('code', s.closes),
    );
    metric(
      'client_closes_total',
      'counter',
      'Connections closed by the client or the network, by class of close code.',
      labelled('class', s.clientCloses),
    );
    metric(
      'app_closes_total',
      'counter',
      'Connections closed by the application itself, by class of close code.',
      labelled('class', s.appCloses),
    );
    metric('bans_total', 'counter', 'Bans started.', [['', s.bans]]);
    if (s.store) {
      metric('store_up', 'gauge', 'Whether the store answered the last readiness probe.', [
        ['', s.store.up ? 1 : 0],
      ]);
      metric('store_latency_seconds', 'gauge', 'Duration of the last readiness probe.', [
        ['', s.store.latencyMs / 1000],
      ]);
    }
    return `${lines.join('\n')}\n`;
  }
}
