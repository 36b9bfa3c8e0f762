/**
 * A guarded client's stop, and the epoch that outlasts it: a stop (refused, banned, gave up, or
 * the app's `close()`) is final until `restart()`, and an attempt begun before a stop or restart
 * may not finish after it.
 *
 * @module
 */
import type { AttemptRun } from './attempt-run.ts';
import { notify } from './notify.ts';
import { ticketBanStop } from './refusal.ts';
import { type ClientStop, ClientStoppedError } from './stop.ts';
import { TicketError } from './ticket.ts';
import type { TokenKeeper } from './token-keeper.ts';

/** The app's callbacks a stop or a failed attempt tells (see `GuardedWSClientOptions`). */
export interface LifecycleOptions {
  /** Told when the server refused the credentials or access. */
  readonly onAuthError?: (stop: { code: number; reason: string }) => void;
  /** Told once per stop, but the app's own `close()`. */
  readonly onStop?: (stop: ClientStop) => void;
  /** Told about every failed ticket fetch, token read or refresh. */
  readonly onCredentialError?: (error: unknown) => void;
}

/** The stop and epoch of one client. */
export interface Lifecycle {
  /** Why the client is stopped; `undefined` while it is not. */
  readonly stop: ClientStop | undefined;
  /** Bumped at every stop and restart. */
  readonly epoch: number;
  /** Stop, unless stopped already: calls in flight fail, the socket closes, the app is told. */
  halt(next: ClientStop): void;
  /** The start of every connection attempt, whichever path of tRPC's asked for it: its epoch. */
  begin(): number;
  /** A ticket, token or refresh failed during the attempt begun at `at`: throws it, or the stop. */
  failed(at: number, error: unknown): never;
  /** Leave a stop; `false` while a ban is in force (see `GuardedWSClient.restart`). */
  restart(): boolean;
}

/**
 * The lifecycle of a client whose run of attempts is `run` and token `tokens`. `closeSocket`
 * and `failCalls` act on tRPC's client, which exists only once its options (built on this) do.
 */
export function createLifecycle(
  options: LifecycleOptions,
  run: AttemptRun,
  tokens: TokenKeeper,
  closeSocket: () => void,
  failCalls: (error: Error) => void,
): Lifecycle {
  let stop: ClientStop | undefined;
  let epoch = 0;

  const halt = (next: ClientStop): void => {
    if (stop) return;
    stop = next;
    epoch++;
    tokens.cancel();
    if (next.kind !== 'closed') failCalls(new ClientStoppedError(next));
    // close() turns tRPC's reconnect off synchronously, before its own close listener runs.
    closeSocket();
    if (next.kind === 'closed') return;
    // Only a refusal of the credentials or access is an auth error (not 1009, not giving up).
    if (next.kind === 'refused' || next.kind === 'banned')
      notify(options.onAuthError, { code: next.code, reason: next.reason });
    notify(options.onStop, next);
  };

  return {
    get stop() {
      return stop;
    },
    get epoch() {
      return epoch;
    },
    halt,
    begin() {
      if (!stop && !run.take()) halt(run.gaveUp());
      if (stop) {
        // Something in tRPC re-armed its reconnect: turn it off again.
        closeSocket();
        throw new ClientStoppedError(stop);
      }
      return epoch;
    },
    failed(at, error) {
      if (at === epoch && !stop) {
        notify(options.onCredentialError, error);
        run.failed(0, (error as Error)?.message ?? String(error), error);
        if (error instanceof TicketError && error.code === 'BANNED') halt(ticketBanStop(error));
        else {
          if (error instanceof TicketError && error.status === 401) tokens.ask();
          run.hint(error instanceof TicketError ? error.retryAfterMs : undefined);
        }
      }
      // An attempt that a stop or a restart overtook while it awaited credentials.
      if (at === epoch && !stop) throw error;
      throw stop
        ? new ClientStoppedError(stop)
        : new Error('wsguard/client: attempt overtaken by restart()');
    },
    restart() {
      if (stop?.until !== undefined && Date.now() < stop.until) return false;
      if (stop) {
        stop = undefined;
        epoch++;
        run.reset();
        // Read the token anew: the app may have logged in again.
        tokens.reset();
      }
      return true;
    },
  };
}
