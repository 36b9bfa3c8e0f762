/**
 * Why a guarded client stopped, and the error its calls fail with while it is stopped.
 *
 * @module
 */

/** Why the client stopped. Nothing reconnects after a stop until the app calls `restart()`. */
export interface ClientStop {
  /**
   * `refused`: the server refused the credentials or access (4001, 4003, 1008).
   * `too-big`: the server closed 1009, a message over its size limit: a bug in the app or a
   *   limit set lower on the server than the client assumes, not an auth failure.
   * `banned`: 4030, or the ticket endpoint answered 403 `BANNED`.
   * `gave-up`: the retry bound was reached (`backoff.maxAttempts` / `backoff.maxElapsedMs`).
   * `closed`: the app called `close()`.
   */
  readonly kind: 'refused' | 'too-big' | 'banned' | 'gave-up' | 'closed';
  /** The close code that ended it (4030 for a ban at the ticket endpoint; 0 when no socket closed). */
  readonly code: number;
  /** The server's reason, or the last error's message. */
  readonly reason: string;
  /** A ban's end, in ms since the epoch, when the server named it. */
  readonly until?: number;
  /** The last credential error (ticket fetch, token, refresh), when that is what failed. */
  readonly error?: unknown;
}

/**
 * The error a call fails with while the client is stopped (wrapped by tRPC in a
 * `TRPCClientError` whose `cause` is this), and the error calls in flight at the stop end with.
 */
export class ClientStoppedError extends Error {
  /** Why the client stopped. */
  readonly stop: ClientStop;

  /** An error for calls refused because of `stop`. */
  constructor(stop: ClientStop) {
    super(
      `wsguard/client stopped (${stop.kind}${stop.reason ? `: ${stop.reason}` : ''}); restart() to connect again`,
    );
    this.name = 'ClientStoppedError';
    this.stop = stop;
  }
}
