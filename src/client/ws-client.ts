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
import { createAttemptRun } from './attempt-run.ts';
import { gateCalls } from './calls.ts';
import { createCloseTally } from './close-tally.ts';
import { connectionSteps } from './connection-steps.ts';
import { limitFrames } from './frame-limit.ts';
import { createLifecycle } from './lifecycle.ts';
import { notify } from './notify.ts';
import { type BackoffOptions, closeAction } from './policy.ts';
import { closeStop } from './refusal.ts';
import type { RetryLimits } from './retry-budget.ts';
import { type ClientStop, ClientStoppedError } from './stop.ts';
import { createTokenKeeper } from './token-keeper.ts';

/** Why the client stopped: the close code and the server's reason. */
export interface AuthStop {
  /** The close code (4001, 4003, 4030, 1008). */
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
  /**
   * Called once when the server refuses the credentials or access (4001/4003/4030/1008). A 1009
   * (message too big) stops the client too, but is told through `onStop` only (kind `too-big`).
   */
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
  /**
   * The server's frame limit in bytes (the guard's `messages.maxBytes`): a batch of calls made in
   * one tick is split into frames within it rather than sent as one frame the server closes 1009,
   * and a single call over it fails alone with `MessageTooLargeError` (its `TRPCClientError`'s
   * `cause`), unsent, while the socket and the other calls go on. Set it to the server's value
   * when that is not the default.
   * @default 65536
   */
  readonly maxMessageBytes?: number;
  /**
   * Calls per frame at most (the bridge's `maxBatchSize`).
   * @default 100
   */
  readonly maxBatchSize?: number;
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
  if (!options.getTicket && !options.getToken)
    throw new TypeError('createGuardedWSClient: give getTicket or getToken');
  const run = createAttemptRun(options.backoff);
  const tokens = createTokenKeeper(options, () => life.epoch);
  const life = createLifecycle(
    options,
    run,
    tokens,
    () => void ws.close(),
    (error) => failCalls(error),
  );

  const tally = createCloseTally();
  /** A close, as tRPC reports it: a stop, a refresh, an immediate reconnect or a backoff. */
  const closed = (code: number, reason: string): void => {
    tally.closed();
    // tRPC's state is `idle` only after a close the client made itself (close(), lazy mode).
    const own = ws.connectionState.get().state === 'idle';
    const action = own ? 'none' : closeAction(code);
    run.closed(own);
    notify(options.onClose, { code, reason, action });
    if (life.stop || own) return;
    if (action === 'stop') {
      life.halt(closeStop(code, reason));
      return;
    }
    run.failed(code, reason);
    if (action === 'refresh') tokens.ask();
    // A shutdown's `retry in N ms` is waited, so a fleet restarted at once is not asked for every
    // handshake in the same second (`reconnectWindowMs`).
    run.afterClose(action, reason);
  };

  const ws = createWSClient({
    ...options,
    ...connectionSteps(options, tokens, life, tally.wait),
    retryDelayMs: (attempt: number) => {
      if (!life.stop && run.exhausted()) life.halt(run.gaveUp());
      if (!life.stop) return run.delay(attempt);
      void ws.close();
      return 0;
    },
    onOpen: () => {
      tally.opened();
      run.opened();
      options.onOpen?.();
    },
    onClose: (event?: { code?: number; reason?: string }) =>
      closed(event?.code ?? 1006, event?.reason ?? ''),
  } as WebSocketClientOptions);
  limitFrames(ws, options.maxMessageBytes ?? 65_536, options.maxBatchSize ?? 100);
  const failCalls = gateCalls(ws, () =>
    life.stop ? new ClientStoppedError(life.stop) : undefined,
  );

  return {
    client: ws,
    get stopped(): boolean {
      return life.stop !== undefined;
    },
    get stop(): ClientStop | undefined {
      return life.stop;
    },
    async close(): Promise<void> {
      life.halt({ kind: 'closed', code: 1000, reason: 'closed by the app' });
      await ws.close();
    },
    restart: (): boolean => life.restart(),
  };
}
