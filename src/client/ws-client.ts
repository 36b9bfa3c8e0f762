/**
 * `createGuardedWSClient`: tRPC's `createWSClient`, made to obey wsguard's close-code contract.
 * Fresh credentials for every connect and reconnect (a ticket is single-use), a stop after
 * 4001/4003/4030/1008/1009 instead of tRPC's endless retries (trpc/trpc#4774), an immediate
 * refresh and reconnect after a first 4002, full-jitter backoff elsewhere, a bound on every run of
 * reconnect attempts, and a proactive refresh before the token expires. Subscriptions resume with
 * `lastEventId` through tRPC's own resubscription.
 *
 * A stop is final until the app calls `restart()`: calls made while stopped fail at once with a
 * {@link ClientStoppedError} and never fetch a ticket or open a socket.
 *
 * @module
 */
import {
  createWSClient,
  type TRPCWebSocketClient,
  type WebSocketClientOptions,
} from '@trpc/client';
import { gateCalls } from './calls.ts';
import {
  type BackoffOptions,
  backoffDelay,
  closeAction,
  retryHintMs,
  tokenExpiry,
} from './policy.ts';
import { RetryBudget, type RetryLimits } from './retry-budget.ts';
import { type ClientStop, ClientStoppedError } from './stop.ts';
import { TicketError } from './ticket.ts';

/** A connection open this long was healthy: the next failure starts a new run of attempts. */
const HEALTHY_AFTER_MS = 5000;

/** Why the client stopped: the close code and the server's reason. */
export interface AuthStop {
  /** The close code (4001, 4003, 4030, 1008, 1009). */
  readonly code: number;
  /** The server's short reason. */
  readonly reason: string;
}

/** Options for {@link createGuardedWSClient}. */
export interface GuardedWSClientOptions
  extends Omit<WebSocketClientOptions, 'url' | 'connectionParams' | 'retryDelayMs' | 'onClose'> {
  /** The socket URL, without credentials. */
  readonly url: string;
  /**
   * Fetch a one-time ticket (e.g. with {@link fetchTicket}); called for every connect and
   * reconnect and sent as `?ticket=`. Use this in browsers. A {@link TicketError} with code
   * `BANNED` stops the client like a 4030; a 401 refreshes the token before the next attempt.
   */
  readonly getTicket?: () => Promise<string>;
  /** The current token; sent in tRPC `connectionParams` as `{ token }` when `getTicket` is absent. */
  readonly getToken?: () => Promise<string> | string;
  /** Get a new token (after 4002, and before expiry). */
  readonly refreshToken?: () => Promise<string>;
  /**
   * Hand a refreshed token to the open connection in band (e.g.
   * `(token) => trpc.session.refresh.mutate({ token })`), so the socket outlives the old token.
   */
  readonly refreshInBand?: (token: string) => Promise<unknown>;
  /**
   * Refresh this long before the token expires.
   * @default 30000
   */
  readonly refreshBeforeMs?: number;
  /** Called once when the server refuses the credentials or access (4001/4003/4030/1008/1009). */
  readonly onAuthError?: (stop: AuthStop) => void;
  /** Called once per stop, whatever the cause but the app's own `close()`; see {@link ClientStop}. */
  readonly onStop?: (stop: ClientStop) => void;
  /**
   * Called for every failed ticket fetch, token read or refresh (the error, e.g. a
   * {@link TicketError}); the client backs off and retries within its bound.
   */
  readonly onCredentialError?: (error: unknown) => void;
  /** Told about every close, with the action taken. */
  readonly onClose?: (event: { code: number; reason: string; action: string }) => void;
  /** Backoff delays, and the bound after which the client gives up (then `onStop`, `gave-up`). */
  readonly backoff?: BackoffOptions & RetryLimits;
}

/** The client: tRPC's, plus what the guard added. */
export interface GuardedWSClient {
  /** The tRPC WebSocket client, for `wsLink({ client })`. */
  readonly client: TRPCWebSocketClient;
  /** Whether the client is stopped (refused, banned, gave up, or closed). */
  readonly stopped: boolean;
  /** Why it is stopped; `undefined` while it is not. */
  readonly stop: ClientStop | undefined;
  /** Close; the client stays stopped until {@link GuardedWSClient.restart}. */
  close(): Promise<void>;
  /**
   * Leave a stop (after the user logged in again, or chose to retry): the failure count starts
   * over and the next call or subscription connects with fresh credentials. Nothing reconnects
   * on its own after a stop. Returns `false`, and stays stopped, while a ban is in force (until
   * `stop.until`): the client never connects before a ban's end.
   */
  restart(): boolean;
}

/** Run an app callback; a throw is rethrown later, so it cannot break the reconnect logic. */
function notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

/**
 * Create a tRPC WebSocket client that obeys the close-code contract.
 *
 * @example
 * ```ts
 * const ws = createGuardedWSClient({
 *   url: 'wss://app.example.com/ws',
 *   getTicket: () => fetchTicket('/ws/ticket', { headers: { authorization: `Bearer ${token}` } }),
 *   onStop: (stop) => (stop.kind === 'gave-up' ? showRetryButton() : showLogin(stop)),
 * });
 * const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws.client })] });
 * ```
 */
export function createGuardedWSClient(options: GuardedWSClientOptions): GuardedWSClient {
  const { url, getTicket, getToken, refreshToken, refreshInBand, backoff } = options;
  if (!getTicket && !getToken)
    throw new TypeError('createGuardedWSClient: give getTicket or getToken');
  let stop: ClientStop | undefined;
  // Bumped at every stop and restart: an attempt begun before it may not finish after it.
  let epoch = 0;
  let mustRefresh = false;
  /** Counts requests for a refresh: one finishing clears only the requests made before it began. */
  let refreshAsks = 0;
  let hint: number | undefined;
  let immediate = false;
  // One immediate reconnect (after 4002 or 1001) per run: a repeat backs off.
  let quick = true;
  let token: string | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let openedAt: number | undefined;
  let last: { code: number; reason: string; error?: unknown } = { code: 0, reason: '' };
  // Attempts since the last healthy connection. tRPC counts attempts only while sockets fail to
  // open, and resets on every open: a server that accepts and then closes (4002, 4029: the
  // close-code contract) would get an endless, unbounded loop.
  const budget = new RetryBudget(backoff);

  const halt = (next: ClientStop): void => {
    if (stop) return;
    stop = next;
    epoch++;
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    if (next.kind !== 'closed') failCalls(new ClientStoppedError(next));
    // close() turns tRPC's reconnect off synchronously, before its own close listener runs.
    void ws.close();
    if (next.kind === 'closed') return;
    if (next.kind !== 'gave-up')
      notify(options.onAuthError, { code: next.code, reason: next.reason });
    notify(options.onStop, next);
  };

  const giveUp = (): void =>
    halt({
      kind: 'gave-up',
      code: last.code,
      reason: `${budget.attempts} attempts${last.reason ? `; last: ${last.reason}` : ''}`,
      ...(last.error !== undefined ? { error: last.error } : {}),
    });

  const fresh = (): void => {
    budget.reset();
    quick = true;
  };

  /** A connection open long enough, or closed by the client itself, ends the run. */
  const settle = (own = false): void => {
    if (openedAt !== undefined && (own || Date.now() - openedAt >= HEALTHY_AFTER_MS)) fresh();
  };

  /** The start of every connection attempt, whichever path of tRPC's asked for it. */
  const begin = (): number => {
    if (!stop) {
      settle();
      if (!budget.take()) giveUp();
    }
    if (stop) {
      // Something in tRPC re-armed its reconnect: turn it off again.
      void ws.close();
      throw new ClientStoppedError(stop);
    }
    return epoch;
  };

  /** An attempt that a stop or a restart overtook while it awaited credentials. */
  const overtaken = (): Error =>
    stop
      ? new ClientStoppedError(stop)
      : new Error('wsguard/client: attempt overtaken by restart()');

  /** A ticket, token or refresh failed during the attempt begun at `at`. */
  const failed = (at: number, error: unknown): never => {
    if (at === epoch && !stop) {
      notify(options.onCredentialError, error);
      last = { code: 0, reason: (error as Error)?.message ?? String(error), error };
      if (error instanceof TicketError && error.code === 'BANNED') {
        halt({
          kind: 'banned',
          code: 4030,
          reason: error.message,
          ...(error.until !== undefined ? { until: error.until } : {}),
          error,
        });
      } else {
        if (error instanceof TicketError && error.status === 401) {
          mustRefresh = true;
          refreshAsks++;
        }
        hint = error instanceof TicketError ? error.retryAfterMs : undefined;
      }
    }
    throw at === epoch && !stop ? error : overtaken();
  };

  const schedule = (t: string): void => {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    const exp = tokenExpiry(t);
    if (exp === undefined || !refreshToken || !refreshInBand) return;
    const delay = Math.max(1000, exp - Date.now() - (options.refreshBeforeMs ?? 30_000));
    // Timers hold 2^31-1 ms (24.8 days); a longer delay would fire at once, and loop.
    if (delay > 2_147_483_647) {
      refreshTimer = setTimeout(() => schedule(t), 2_147_483_647);
      return;
    }
    const at = epoch;
    refreshTimer = setTimeout(() => {
      refreshToken()
        .then(async (next) => {
          if (at !== epoch) return;
          token = next;
          await refreshInBand(next);
          schedule(next);
        })
        // The server closes with 4002 at expiry, and the client refreshes then.
        .catch((error: unknown) => notify(options.onCredentialError, error));
    }, delay);
  };

  /** Refresh first when the last close asked for it; it stays asked for until one succeeds. */
  const refreshIfAsked = async (): Promise<boolean> => {
    if (!mustRefresh || !refreshToken) return false;
    const asked = refreshAsks;
    token = await refreshToken();
    // A 4002 that came while this refresh ran asks for another: only older asks are answered.
    if (refreshAsks === asked) mustRefresh = false;
    return true;
  };

  const base: Omit<WebSocketClientOptions, 'url'> = {
    ...options,
    ...(getTicket
      ? {}
      : {
          connectionParams: async () => {
            const at = epoch;
            try {
              // Without refreshToken, the app's current token is read for every attempt.
              if (!(await refreshIfAsked()) && (token === undefined || !refreshToken))
                token = await getToken!();
              const current = token!;
              if (at !== epoch) throw overtaken();
              schedule(current);
              return { token: current };
            } catch (error) {
              return failed(at, error);
            }
          },
        }),
    retryDelayMs: (attempt: number) => {
      if (!stop) {
        settle();
        if (budget.exhausted()) giveUp();
      }
      if (stop) {
        void ws.close();
        return 0;
      }
      if (immediate) {
        immediate = false;
        return 0;
      }
      const d = backoffDelay(Math.max(attempt, budget.attempts - 1), backoff, hint);
      hint = undefined;
      return d;
    },
    onOpen: () => {
      openedAt = Date.now();
      options.onOpen?.();
    },
    onClose: (event?: { code?: number; reason?: string }) => {
      const code = event?.code ?? 1006;
      const reason = event?.reason ?? '';
      // tRPC's state is `idle` only after a close the client made itself (close(), lazy mode).
      const own = ws.connectionState.get().state === 'idle';
      const action = own ? 'none' : closeAction(code);
      settle(own);
      openedAt = undefined;
      notify(options.onClose, { code, reason, action });
      if (stop || own) return;
      if (action === 'stop') {
        // A relative hint (`retry after Ns`) wins over the ISO end: this clock may be skewed.
        const now = Date.now();
        const wait = code === 4030 ? retryHintMs(reason, now) : undefined;
        const until = wait !== undefined ? now + wait : undefined;
        halt({
          kind: code === 4030 ? 'banned' : 'refused',
          code,
          reason,
          ...(until !== undefined ? { until } : {}),
        });
        return;
      }
      last = { code, reason };
      if (action === 'refresh' || action === 'reconnect') {
        if (action === 'refresh') {
          mustRefresh = true;
          refreshAsks++;
        }
        // Only the first 4002 or 1001 of a run reconnects at once; a repeat backs off.
        immediate = quick;
        quick = false;
      } else {
        hint = retryHintMs(reason);
      }
    },
  };
  const ws = createWSClient({
    ...base,
    url: async () => {
      // tRPC's constructor asks for the URL synchronously, before `ws` is assigned.
      await undefined;
      const at = begin();
      if (!getTicket) return url;
      try {
        await refreshIfAsked();
        const ticket = await getTicket();
        if (at !== epoch) throw overtaken();
        return `${url}${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
      } catch (error) {
        return failed(at, error);
      }
    },
  } as WebSocketClientOptions);
  const failCalls = gateCalls(ws, () => (stop ? new ClientStoppedError(stop) : undefined));

  return {
    client: ws,
    get stopped(): boolean {
      return stop !== undefined;
    },
    get stop(): ClientStop | undefined {
      return stop;
    },
    async close(): Promise<void> {
      halt({ kind: 'closed', code: 1000, reason: 'closed by the app' });
      await ws.close();
    },
    restart(): boolean {
      if (stop?.until !== undefined && Date.now() < stop.until) return false;
      if (stop) {
        stop = undefined;
        epoch++;
        fresh();
        mustRefresh = false;
        immediate = false;
        hint = undefined;
        // Read the token anew: the app may have logged in again.
        token = undefined;
      }
      return true;
    },
  };
}
