/**
 * The handshake's decision as adapters see it: what they pass in ({@link UpgradeInfo}) and what
 * they get back, an {@link Accept} or a {@link Reject} carrying the status or close code of the
 * contract.
 *
 * @module
 */
import type { RejectMode, RejectReason } from '../core/codes.ts';
import type { GuardConnection } from '../state/connection.ts';

/** What an adapter knows about a handshake. */
export interface UpgradeInfo {
  /** The upgrade request. */
  readonly request: Request;
  /** Client IP, resolved by the adapter (trusted proxies only). */
  readonly ip: string;
  /** Whether the client used TLS (directly, or as a trusted proxy reports). */
  readonly secure?: boolean;
}

/** The handshake may proceed. */
export interface Accept {
  /** Discriminant. */
  readonly ok: true;
  /** The connection's state; keep it in the peer context and pass it to `message` and `close`. */
  readonly connection: GuardConnection;
  /** Subprotocol to echo in the handshake response, if any. */
  readonly protocol: string | undefined;
}

/** The handshake is refused. */
export interface Reject {
  /** Discriminant. */
  readonly ok: false;
  /** Why. */
  readonly reason: RejectReason;
  /** HTTP status, when refused at the upgrade. */
  readonly status: number;
  /** Close code, when accepted then closed. */
  readonly closeCode: number;
  /** Short fixed text for the body or close reason; for bans it carries the ban's end. */
  readonly message: string;
  /** `'http'`: answer the upgrade with `status`. `'close'`: accept, then close with `closeCode`. */
  readonly mode: RejectMode;
  /** Seconds until a retry may succeed (rate limits, caps, bans, 503). */
  readonly retryAfter: number | undefined;
  /** Subprotocol to echo if the socket is accepted to be closed. */
  readonly protocol: string | undefined;
}
