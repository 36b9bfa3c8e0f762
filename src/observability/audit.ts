/**
 * Audit events: one typed event per decision, with who, from where and why, and no secrets.
 * Every string field passes through redaction before a sink sees it, URLs included, so a token
 * in a query string or a JWT pasted into a reason never reaches a log.
 *
 * @module
 */
import type { MessageRejectReason, RejectReason } from '../core/codes.ts';
import { redactString, redactUrl } from './redact.ts';

/** Every kind of audit event. */
export type AuditEventType =
  | 'connection.accepted'
  | 'connection.rejected'
  | 'connection.authenticated'
  | 'connection.closed'
  | 'connection.evicted'
  | 'message.rejected'
  | 'limit.exceeded'
  | 'permission.denied'
  | 'ban.started'
  | 'token.refreshed'
  | 'ticket.issued'
  | 'store.error';

/** One audit event. Fields are present when known. */
export interface AuditEvent {
  /** What happened. */
  readonly type: AuditEventType;
  /** ISO timestamp. */
  readonly time: string;
  /** Connection id. */
  readonly connectionId?: string;
  /** Client IP. */
  readonly ip?: string;
  /** User id (principal subject). */
  readonly userId?: string;
  /** `Origin` header. */
  readonly origin?: string | null;
  /** `User-Agent` header (truncated). */
  readonly userAgent?: string;
  /** Request path and query, secrets masked. */
  readonly url?: string;
  /** Why, for rejections and closes. */
  readonly reason?: RejectReason | MessageRejectReason | string;
  /** HTTP status for upgrade rejections. */
  readonly status?: number;
  /** Close code, when a socket was closed. */
  readonly closeCode?: number;
  /** True when the decision was not enforced (dry-run mode). */
  readonly dryRun?: boolean;
  /** Extra non-secret details (limits, ban end, permission name). */
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

/** Where events go: a function, `'console'` (JSON lines on stdout), or `false` (nowhere). */
export type AuditSink = ((event: AuditEvent) => void) | 'console' | false;

/** Mask secrets in every string field of an event. */
export function redactEvent(event: AuditEvent, secretParams: readonly string[] = []): AuditEvent {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) {
    if (typeof v === 'string') out[k] = k === 'url' ? redactUrl(v, secretParams) : redactString(v);
    else if (k === 'detail' && v && typeof v === 'object') {
      const d: Record<string, unknown> = {};
      for (const [dk, dv] of Object.entries(v))
        d[dk] = typeof dv === 'string' ? redactString(dv) : dv;
      out[k] = d;
    } else out[k] = v;
  }
  return out as unknown as AuditEvent;
}

/** An emitter that redacts and never throws into the caller. */
export type AuditEmitter = (event: Omit<AuditEvent, 'time'>) => void;

/** Build the emitter for a sink. A throwing sink is reported once to `onError` and ignored. */
export function createAuditEmitter(
  sink: AuditSink,
  secretParams: readonly string[],
  onError: (error: unknown) => void,
): AuditEmitter {
  if (sink === false) return () => {};
  const write =
    sink === 'console'
      ? (e: AuditEvent) => {
          console.log(JSON.stringify(e));
        }
      : sink;
  return (event) => {
    try {
      write(redactEvent({ time: new Date().toISOString(), ...event } as AuditEvent, secretParams));
    } catch (error) {
      onError(error);
    }
  };
}
