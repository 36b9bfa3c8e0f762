/**
 * `createGuardedWSClient`: tRPC's `createWSClient`, made to obey wsguard's close-code contract.
 * Fresh credentials for every connect and reconnect (a ticket is single-use), a stop after
 * 4001/4003/4030 instead of tRPC's endless retries (trpc/trpc#4774), an immediate refresh and
 * reconnect after 4002, full-jitter backoff elsewhere, and a proactive refresh before the token
 * expires. Subscriptions resume with `lastEventId` through tRPC's own resubscription.
 *
 * @module
 */
import {
  createWSClient,
  type TRPCWebSocketClient,
  type WebSocketClientOptions,
} from '@trpc/client';
import {
  type BackoffOptions,
  backoffDelay,
  closeAction,
  retryHintMs,
  tokenExpiry,
} from './policy.ts';

/** A connection open this long was healthy: the next backoff starts from the base again. */
const HEALTHY_AFTER_MS = 5000;

/** Why the client stopped. */
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
   * Fetch a one-time ticket (e.g. `POST /ws/ticket`); called for every connect and reconnect and
   * sent as `?ticket=`. Use this in browsers.
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
  /** Called once when the server refuses the credentials or access; the client has stopped. */
  readonly onAuthError?: (stop: AuthStop) => void;
  /** Told about every close, with the action taken. */
  readonly onClose?: (event: { code: number; reason: string; action: string }) => void;
  /** Backoff for 4008/4029/1013/1011/1006. */
  readonly backoff?: BackoffOptions;
}

/** The client: tRPC's, plus what the guard added. */
export interface GuardedWSClient {
  /** The tRPC WebSocket client, for `wsLink({ client })`. */
  readonly client: TRPCWebSocketClient;
  /** Whether the client stopped for good (4001/4003/4030…). */
  readonly stopped: boolean;
  /** Close for good. */
  close(): Promise<void>;
}

/**
 * Create a tRPC WebSocket client that obeys the close-code contract.
 *
 * @example
 * ```ts
 * const ws = createGuardedWSClient({
 *   url: 'wss://app.example.com/ws',
 *   getTicket: async () => (await (await fetch('/ws/ticket', { method: 'POST', headers })).json()).ticket,
 *   onAuthError: () => showLogin(),
 * });
 * const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws.client })] });
 * ```
 */
export function createGuardedWSClient(options: GuardedWSClientOptions): GuardedWSClient {
  const { url, getTicket, getToken, refreshToken, refreshInBand, onAuthError, backoff } = options;
  if (!getTicket && !getToken)
    throw new TypeError('createGuardedWSClient: give getTicket or getToken');
  let stopped = false;
  let mustRefresh = false;
  let hint: number | undefined;
  let immediate = false;
  let token: string | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  // Closes in a row that asked for a backoff. tRPC counts attempts only while sockets fail to
  // open; a server that accepts and then closes (4029, 4008: the close-code contract) would reset
  // its count on every attempt, and the backoff would never grow past `baseMs`.
  let failures = 0;
  let openedAt: number | undefined;

  const schedule = (t: string): void => {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    const exp = tokenExpiry(t);
    if (exp === undefined || !refreshToken || !refreshInBand) return;
    const delay = Math.max(1000, exp - Date.now() - (options.refreshBeforeMs ?? 30_000));
    refreshTimer = setTimeout(() => {
      refreshToken()
        .then(async (next) => {
          token = next;
          await refreshInBand(next);
          schedule(next);
        })
        .catch(() => {
          // The server closes with 4002 at expiry, and the client refreshes then.
        });
    }, delay);
  };

  const currentToken = async (): Promise<string> => {
    if (mustRefresh && refreshToken) {
      mustRefresh = false;
      token = await refreshToken();
    } else if (token === undefined || !refreshToken) {
      token = await getToken!();
    }
    schedule(token);
    return token;
  };

  const base: Omit<WebSocketClientOptions, 'url'> = {
    ...options,
    ...(getTicket ? {} : { connectionParams: async () => ({ token: await currentToken() }) }),
    retryDelayMs: (attempt: number) => {
      if (immediate) {
        immediate = false;
        return 0;
      }
      const d = backoffDelay(Math.max(attempt, failures - 1), backoff, hint);
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
      const action = closeAction(code);
      // A connection that served for a while ends a run of failures.
      if (openedAt !== undefined && Date.now() - openedAt >= HEALTHY_AFTER_MS) failures = 0;
      openedAt = undefined;
      options.onClose?.({ code, reason, action });
      if (action === 'stop' && !stopped) {
        stopped = true;
        if (refreshTimer !== undefined) clearTimeout(refreshTimer);
        // close() turns tRPC's reconnect off synchronously, before its own close listener runs.
        void ws.close();
        onAuthError?.({ code, reason });
      } else if (action === 'refresh') {
        mustRefresh = true;
        immediate = true;
      } else if (action === 'reconnect') {
        immediate = true;
      } else {
        failures++;
        hint = retryHintMs(reason);
      }
    },
  };
  const ws = createWSClient({
    ...base,
    url: getTicket
      ? async () => {
          if (mustRefresh && refreshToken) {
            mustRefresh = false;
            token = await refreshToken();
          }
          const ticket = await getTicket();
          return `${url}${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
        }
      : url,
  } as WebSocketClientOptions);

  return {
    client: ws,
    get stopped(): boolean {
      return stopped;
    },
    async close(): Promise<void> {
      stopped = true;
      if (refreshTimer !== undefined) clearTimeout(refreshTimer);
      await ws.close();
    },
  };
}
