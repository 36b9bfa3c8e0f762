/**
 * The admin view's tables, drawn from one `admin.overview` answer: refusals by reason and origin,
 * current bans with Unban, open connections with Kick. Every value is untrusted (an `Origin`
 * header is whatever a client sent) and goes in with `textContent` only.
 */
import type { BanEntry } from '../admin/ban-book.ts';
import type { AdminOverview, ConnectionRow } from '../admin/overview.ts';
import type { RefusalRow } from '../admin/refusal-table.ts';
import type { ScoreRow } from '../admin/score-watch.ts';

/** What the tables' buttons do. */
export interface AdminActions {
  readonly unban: (ban: BanEntry) => void;
  readonly kick: (user: string) => void;
}

/** "12 s", "4 min", "2 h": an age or a time left, short enough for a table cell. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function row(cells: readonly (string | Node)[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (typeof c === 'string') td.textContent = c;
    else td.append(c);
    tr.append(td);
  }
  return tr;
}

function button(text: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

/** Fill `table`'s body with `rows`, or one row saying `empty`. */
function fill(table: HTMLTableElement, rows: HTMLTableRowElement[], empty: string): void {
  const body = table.tBodies[0] ?? table.createTBody();
  if (rows.length === 0) {
    const tr = row([empty]);
    tr.className = 'empty';
    const td = tr.cells[0];
    if (td) td.colSpan = table.tHead?.rows[0]?.cells.length ?? 1;
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

function refusalRow(r: RefusalRow, now: number): HTMLTableRowElement {
  const tr = row([
    r.kind,
    r.reason,
    r.origin ?? '(none)',
    String(r.count),
    `${span(now - r.lastSeen)} ago`,
    r.lastIp ?? '',
  ]);
  tr.dataset['reason'] = r.reason;
  tr.dataset['kind'] = r.kind;
  tr.dataset['ip'] = r.lastIp ?? '';
  tr.dataset['count'] = String(r.count);
  tr.dataset['origin'] = r.origin ?? '';
  return tr;
}

function banRow(b: BanEntry, now: number, actions: AdminActions): HTMLTableRowElement {
  const tr = row([
    b.subject,
    b.id,
    b.reason,
    `in ${span(b.until - now)} (${new Date(b.until).toLocaleTimeString()})`,
    button('Unban', () => actions.unban(b)),
  ]);
  tr.dataset['subject'] = b.subject;
  tr.dataset['id'] = b.id;
  return tr;
}

function scoreRow(r: ScoreRow): HTMLTableRowElement {
  // A bar of the score's share of the threshold: how close this one is to a ban.
  const share = Math.min(1, r.score / r.threshold);
  const bar = document.createElement('meter');
  bar.min = 0;
  bar.max = 1;
  bar.high = 0.75;
  bar.value = share;
  const tr = row([r.subject, r.id, r.score.toFixed(1), String(r.threshold), bar]);
  tr.dataset['subject'] = r.subject;
  tr.dataset['id'] = r.id;
  tr.dataset['score'] = r.score.toFixed(2);
  return tr;
}

function connectionRow(c: ConnectionRow, now: number, actions: AdminActions): HTMLTableRowElement {
  const user = c.user;
  const tr = row([
    user ?? '(anonymous)',
    c.ip,
    c.origin ?? '(none)',
    span(now - c.since),
    c.subscriptions === null ? '–' : String(c.subscriptions),
    user === null ? '' : button('Kick', () => actions.kick(user)),
  ]);
  tr.dataset['user'] = user ?? '';
  tr.dataset['ip'] = c.ip;
  return tr;
}

/** Draw the four tables from `o`. */
export function renderOverview(o: AdminOverview, actions: AdminActions): void {
  const table = (id: string): HTMLTableElement => document.getElementById(id) as HTMLTableElement;
  fill(
    table('refusals'),
    o.refusals.map((r) => refusalRow(r, o.now)),
    'No refusals yet.',
  );
  fill(
    table('bans'),
    o.bans.map((b) => banRow(b, o.now, actions)),
    'No bans in this instance’s book.',
  );
  fill(table('scores'), o.scores.map(scoreRow), 'Nobody refused lately is close to a ban.');
  fill(
    table('connections'),
    o.connections.map((c) => connectionRow(c, o.now, actions)),
    'No open connections.',
  );
}
