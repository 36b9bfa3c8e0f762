/**
 * What a client must do after a close code: the published contract (docs/architecture.md),
 * as one pure function any client can use, with or without tRPC.
 *
 * @module
 */

/** A client's next move. */
export type CloseAction =
  /** Stop: credentials are bad, access is refused, or the client is banned. */
  | 'stop'
  /** Refresh the token, then reconnect at once. */
  | 'refresh'
  /** Back off (with jitter, honouring the server's hint), then retry. */
  | 'backoff'
  /** Reconnect now with fresh credentials (server going away). */
  | 'reconnect'
  /** Normal closure asked for by the client: nothing to do. */
  | 'none';

/**
 * The contract: 4001/4003/4030/1008/1009 stop; 4002 refreshes; 1001 reconnects; 4008, 4029,
 * 1013, 1011, 1006 and anything unknown back off.
 */
export function closeAction(code: number): CloseAction {
  switch (code) {
    case 1000:
      return 'none';
    case 4001:
    case 4003:
    case 4030:
    case 1008:
    case 1009:
      return 'stop';
    case 4002:
      return 'refresh';
    case 1001:
      return 'reconnect';
    default:
      return 'backoff';
  }
}

/**
 * The server's hint in a close reason, in ms: `retry in 1500 ms`, `retry after 5s`, or a ban's end
 * (`banned until 2026-11-23T20:00:00.000Z`). `undefined` when there is none.
 */
export function retryHintMs(reason: string, now: number = Date.now()): number | undefined {
  const ms = /retry in (\d{1,9}) ?ms/i.exec(reason);
  if (ms) return Number(ms[1]);
  const s = /retry after (\d{1,7}) ?s/i.exec(reason);
  if (s) return Number(s[1]) * 1000;
  const until = banEnd(reason);
  return until === undefined ? undefined : Math.max(0, until - now);
}

/**
 * A ban's end in ms since the epoch, from a close reason such as 4030's
 * `banned until 2026-11-23T20:00:00.000Z`; `undefined` when the reason names no valid date.
 */
export function banEnd(reason: string): number | undefined {
  const until = /until (\d{4}-\d{2}-\d{2}T[\d:.]{1,20}Z)/.exec(reason);
  const t = until ? Date.parse(until[1]!) : Number.NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** Backoff settings. */
export interface BackoffOptions {
  /**
   * First delay ceiling in ms.
   * @default 500
   */
  readonly baseMs?: number;
  /**
   * Largest delay in ms.
   * @default 30000
   */
  readonly maxMs?: number;
}

/**
 * "Full jitter" backoff: a random delay between 0 and min(max, base·2^attempt), but never less
 * than the server's hint. Spreads a crowd of reconnecting clients instead of synchronising them.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  hintMs?: number,
  random: () => number = Math.random,
): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(random() * ceiling);
  return hintMs !== undefined ? Math.max(jittered, Math.min(hintMs, max * 10)) : jittered;
}

/** The `exp` of a JWT in ms, read without verifying (the server verifies); `undefined` if absent. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(
      part
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(part.length / 4) * 4, '='),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
