/**
 * The one table of HTTP statuses and WebSocket close codes wsguard uses. It is a published
 * contract: clients (including `wsguard/client`) decide whether to stop, refresh or back off from
 * the close code alone, so a code's meaning never changes.
 *
 * @module
 */

/** WebSocket close codes sent by wsguard, by name. */
export const CloseCode = {
  /** Server shutting down: reconnect with fresh credentials. */
  GoingAway: 1001,
  /** Malformed or invalid messages, repeated: stop. */
  PolicyViolation: 1008,
  /** Message too big: stop (a bug in the client). */
  MessageTooBig: 1009,
  /** Internal error: back off, then retry. */
  InternalError: 1011,
  /**
   * Try again later (store unreachable, client too slow to read, or a refused frame held more
   * calls than could be answered in `wsguard/trpc`): back off, then retry.
   */
  TryAgainLater: 1013,
  /** Credentials missing or invalid: stop and get new credentials. */
  Unauthorized: 4001,
  /** Token or ticket expired: refresh, then reconnect at once. */
  Expired: 4002,
  /** Origin not allowed, or permission denied: stop. */
  Forbidden: 4003,
  /** Too many connections (user or IP cap): back off, then retry. */
  TooManyConnections: 4008,
  /** Connection or message rate exceeded: back off, then retry. */
  RateLimited: 4029,
  /**
   * Banned: stop until the ban's end (sent in the reason as `banned until <ISO date>`). Browsers
   * get it as a close even at the upgrade, since they cannot read a refused handshake's status.
   */
  Banned: 4030,
} as const;

/** One of the close codes in {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Why an upgrade was refused. Stable strings: they appear in audit events, stats and metrics. */
export type RejectReason =
  | 'banned'
  | 'connect_rate'
  | 'origin'
  | 'insecure_transport'
  | 'credentials_missing'
  | 'credentials_invalid'
  | 'expired'
  | 'csrf'
  | 'path_mismatch'
  | 'user_cap'
  | 'ip_cap'
  | 'store_unavailable'
  | 'overloaded'
  | 'internal';

/** Why a message was refused or a connection closed after it opened. */
export type MessageRejectReason =
  | 'too_big'
  | 'message_rate'
  | 'user_message_rate'
  | 'invalid_utf8'
  | 'malformed'
  | 'too_deep'
  | 'too_many_keys'
  | 'forbidden_key'
  | 'schema'
  | 'permission'
  | 'repeated_invalid'
  | 'expired'
  | 'auth_timeout'
  | 'banned'
  | 'user_cap'
  | 'ip_cap'
  | 'credentials_invalid'
  | 'credentials_missing'
  | 'path_mismatch'
  | 'store_unavailable'
  | 'internal';

/** How a rejection is delivered: refused at the HTTP upgrade, or accepted then closed at once. */
export type RejectMode = 'http' | 'close';

/** The contract row for one rejection reason. */
export interface CodeRow {
  /** HTTP status when refused at the upgrade. */
  readonly status: number;
  /** Close code when the socket is accepted then closed. */
  readonly closeCode: CloseCodeValue;
  /**
   * Default delivery. Floods, bans and foreign origins are refused at the HTTP upgrade (no socket
   * allocated) — the guard delivers a ban to a browser (an allowed `Origin`) as a 4030 close
   * instead, since the page cannot read the status; credential failures from an allowed origin are accepted then closed, because a
   * browser cannot read the status of a failed handshake and must tell "log in again" from
   * "network down".
   */
  readonly mode: RejectMode;
  /** Fixed short text used as HTTP body and close reason. Never carries secrets. */
  readonly message: string;
}

/** The contract: every upgrade rejection reason with its status, close code and delivery. */
export const REJECTIONS: Readonly<Record<RejectReason, CodeRow>> = {
  banned: { status: 403, closeCode: CloseCode.Banned, mode: 'http', message: 'banned' },
  connect_rate: {
    status: 429,
    closeCode: CloseCode.RateLimited,
    mode: 'http',
    message: 'too many connection attempts',
  },
  origin: {
    status: 403,
    closeCode: CloseCode.Forbidden,
    mode: 'http',
    message: 'origin not allowed',
  },
  insecure_transport: {
    status: 403,
    closeCode: CloseCode.Forbidden,
    mode: 'http',
    message: 'secure transport required',
  },
  credentials_missing: {
    status: 401,
    closeCode: CloseCode.Unauthorized,
    mode: 'close',
    message: 'credentials required',
  },
  credentials_invalid: {
    status: 401,
    closeCode: CloseCode.Unauthorized,
    mode: 'close',
    message: 'invalid credentials',
  },
  expired: {
    status: 401,
    closeCode: CloseCode.Expired,
    mode: 'close',
    message: 'credentials expired',
  },
  csrf: {
    status: 403,
    closeCode: CloseCode.Forbidden,
    mode: 'close',
    message: 'csrf check failed',
  },
  path_mismatch: {
    status: 403,
    closeCode: CloseCode.Forbidden,
    mode: 'close',
    message: 'path not allowed',
  },
  user_cap: {
    status: 429,
    closeCode: CloseCode.TooManyConnections,
    mode: 'close',
    message: 'too many connections for user',
  },
  ip_cap: {
    status: 429,
    closeCode: CloseCode.TooManyConnections,
    mode: 'close',
    message: 'too many connections from address',
  },
  store_unavailable: {
    status: 503,
    closeCode: CloseCode.TryAgainLater,
    mode: 'http',
    message: 'service unavailable',
  },
  overloaded: {
    status: 503,
    closeCode: CloseCode.TryAgainLater,
    mode: 'http',
    message: 'server busy',
  },
  internal: {
    status: 500,
    closeCode: CloseCode.InternalError,
    mode: 'http',
    message: 'internal error',
  },
};

/** The close code for every reason a live connection can be closed or a message refused. */
export const MESSAGE_CLOSE_CODES: Readonly<Record<MessageRejectReason, CloseCodeValue>> = {
  too_big: CloseCode.MessageTooBig,
  message_rate: CloseCode.RateLimited,
  user_message_rate: CloseCode.RateLimited,
  invalid_utf8: CloseCode.PolicyViolation,
  malformed: CloseCode.PolicyViolation,
  too_deep: CloseCode.PolicyViolation,
  too_many_keys: CloseCode.PolicyViolation,
  forbidden_key: CloseCode.PolicyViolation,
  schema: CloseCode.PolicyViolation,
  permission: CloseCode.Forbidden,
  repeated_invalid: CloseCode.PolicyViolation,
  expired: CloseCode.Expired,
  auth_timeout: CloseCode.Unauthorized,
  banned: CloseCode.Banned,
  user_cap: CloseCode.TooManyConnections,
  ip_cap: CloseCode.TooManyConnections,
  credentials_invalid: CloseCode.Unauthorized,
  credentials_missing: CloseCode.Unauthorized,
  path_mismatch: CloseCode.Forbidden,
  store_unavailable: CloseCode.TryAgainLater,
  internal: CloseCode.InternalError,
};
