/**
 * The admin view's table of refusals: how often the guard refused a handshake or a frame, by
 * reason and origin, and when it last did. Kept per instance from the audit events it sees.
 */
import type { AuditEvent } from '../../../src/mod.ts';

/** Whether a refusal ended a handshake or a frame. */
export type RefusalKind = 'handshake' | 'frame';

/** One row: one (kind, reason, origin) and its count. */
export interface RefusalRow {
  readonly kind: RefusalKind;
  readonly reason: string;
  /** The `Origin` header the refused clients sent (`null`: none, as non-browser clients). */
  readonly origin: string | null;
  readonly count: number;
  /** Last seen (ms since epoch). */
  readonly lastSeen: number;
  /** The address of the last refused client. */
  readonly lastIp: string | null;
}

/** Which audit events are refusals, and of what. */
export function refusalKind(type: AuditEvent['type']): RefusalKind | undefined {
  if (type === 'connection.rejected') return 'handshake';
  if (type === 'message.rejected' || type === 'limit.exceeded' || type === 'permission.denied')
    return 'frame';
  return undefined;
}

/**
 * Rows are bounded: an attacker who varies its `Origin` header on every try must not grow this
 * table without end. Past the bound, the row seen longest ago goes.
 */
const MAX_ROWS = 200;

/** Open connections' origins are remembered up to this many (one per open socket is enough). */
const MAX_ORIGINS = 5000;

/** Refusal counts by kind, reason and origin. */
export class RefusalTable {
  readonly #rows = new Map<string, RefusalRow>();
  /**
   * The `Origin` of each open connection, by id: a refused frame's event names its connection,
   * not the origin the socket was opened from.
   */
  readonly #origins = new Map<string, string | null>();

  #track(event: AuditEvent): void {
    const id = event.connectionId;
    if (id === undefined) return;
    if (event.type === 'connection.accepted') {
      this.#origins.set(id, event.origin ?? null);
      if (this.#origins.size > MAX_ORIGINS)
        this.#origins.delete(this.#origins.keys().next().value as string);
    } else if (event.type === 'connection.closed') this.#origins.delete(id);
  }

  /** Count `event` when it is a refusal; returns whether it was. */
  record(event: AuditEvent): boolean {
    this.#track(event);
    const kind = refusalKind(event.type);
    if (kind === undefined) return false;
    const reason = event.reason ?? event.type;
    const known =
      event.connectionId === undefined ? undefined : this.#origins.get(event.connectionId);
    const origin = event.origin ?? known ?? null;
    const key = JSON.stringify([kind, reason, origin]);
    const before = this.#rows.get(key);
    const at = Date.parse(event.time);
    this.#rows.delete(key);
    this.#rows.set(key, {
      kind,
      reason,
      origin,
      count: (before?.count ?? 0) + 1,
      lastSeen: Number.isFinite(at) ? at : Date.now(),
      lastIp: event.ip ?? before?.lastIp ?? null,
    });
    // Map order is insertion order, and a row seen again is re-inserted: the first is the oldest.
    if (this.#rows.size > MAX_ROWS) this.#rows.delete(this.#rows.keys().next().value as string);
    return true;
  }

  /** The rows, most recently seen first. */
  rows(): RefusalRow[] {
    return [...this.#rows.values()].reverse();
  }
}
