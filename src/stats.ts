/**
 * Counters and a snapshot of the guard's state, and the same as Prometheus text. Local to one
 * process: on several instances, scrape each one (Prometheus sums them).
 *
 * @module
 */

/** A point-in-time view of the guard. */
export interface StatsSnapshot {
  /** Open connections on this instance. */
  readonly connections: number;
  /** Distinct users with at least one open connection. */
  readonly users: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Upgrades refused since start, by reason. */
  readonly rejections: Readonly<Record<string, number>>;
  /** Messages delivered to the app since start. */
  readonly messages: number;
  /** Messages refused since start, by reason. */
  readonly messageRejections: Readonly<Record<string, number>>;
  /** Connections closed by the guard since start, by close code. */
  readonly closes: Readonly<Record<string, number>>;
  /** Bans started since start. */
  readonly bans: number;
  /** Start of counting (ISO). */
  readonly since: string;
}

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
  readonly #since = new Date().toISOString();

  /** A connection opened (for `userId`, when known). */
  opened(userId: string | undefined): void {
    this.#connections++;
    this.#accepted++;
    if (userId !== undefined) this.userJoined(userId);
  }

  /** A pending connection authenticated as `userId`. */
  userJoined(userId: string): void {
    this.#users.set(userId, (this.#users.get(userId) ?? 0) + 1);
  }

  /** A connection closed. */
  closed(userId: string | undefined): void {
    this.#connections = Math.max(0, this.#connections - 1);
    if (userId === undefined) return;
    const n = (this.#users.get(userId) ?? 1) - 1;
    if (n <= 0) this.#users.delete(userId);
    else this.#users.set(userId, n);
  }

  /** An upgrade was refused. */
  rejected(reason: string): void {
    this.#rejections.set(reason, (this.#rejections.get(reason) ?? 0) + 1);
  }

  /** A message reached the app. */
  delivered(): void {
    this.#messages++;
  }

  /** A message was refused. */
  messageRejected(reason: string): void {
    this.#messageRejections.set(reason, (this.#messageRejections.get(reason) ?? 0) + 1);
  }

  /** The guard closed a connection. */
  closedWith(code: number): void {
    const k = String(code);
    this.#closes.set(k, (this.#closes.get(k) ?? 0) + 1);
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
      bans: this.#bans,
      since: this.#since,
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
      'Connections closed by the guard, by close code.',
      labelled('code', s.closes),
    );
    metric('bans_total', 'counter', 'Bans started.', [['', s.bans]]);
    return `${lines.join('\n')}\n`;
  }
}
