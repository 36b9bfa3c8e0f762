/**
 * The guarded client's bearer token: read for each attempt, refreshed when a close or the ticket
 * endpoint asked for it, and refreshed in band before it expires, so the socket outlives it.
 *
 * @module
 */
import { notify } from './notify.ts';
import { tokenExpiry } from './policy.ts';

/** Timers hold 2^31-1 ms (24.8 days); a longer delay would fire at once, and loop. */
const MAX_TIMER_MS = 2_147_483_647;

/** The client options the token keeper reads (see `GuardedWSClientOptions`). */
export interface TokenOptions {
  /** The app's current token. */
  readonly getToken?: () => Promise<string> | string;
  /** Get a new token. */
  readonly refreshToken?: () => Promise<string>;
  /** Hand a refreshed token to the open connection. */
  readonly refreshInBand?: (token: string) => Promise<unknown>;
  /** Refresh this long before the token expires (default 30000). */
  readonly refreshBeforeMs?: number;
  /** Told about every failed refresh. */
  readonly onCredentialError?: (error: unknown) => void;
}

/** The token of one guarded client. */
export interface TokenKeeper {
  /** A close (4002) or the ticket endpoint (401) asked for a refresh before the next attempt. */
  ask(): void;
  /** Refresh when asked; it stays asked for until one succeeds. `true` when it refreshed. */
  refreshIfAsked(): Promise<boolean>;
  /** The token for an attempt: refreshed if asked, else the app's current one. */
  read(): Promise<string>;
  /** Refresh in band `refreshBeforeMs` before `token` expires (when both refresh calls exist). */
  schedule(token: string): void;
  /** Cancel the scheduled refresh (at a stop). */
  cancel(): void;
  /** Forget the token and any ask (at `restart()`): the app may have logged in again. */
  reset(): void;
}

/**
 * The token keeper of one client. `epoch` is the client's stop-and-restart count: a refresh
 * scheduled before a stop or restart must not land after it.
 */
export function createTokenKeeper(options: TokenOptions, epoch: () => number): TokenKeeper {
  const { getToken, refreshToken, refreshInBand } = options;
  let mustRefresh = false;
  /** Counts requests for a refresh: one finishing clears only the requests made before it began. */
  let refreshAsks = 0;
  let token: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const refreshIfAsked = async (): Promise<boolean> => {
    if (!mustRefresh || !refreshToken) return false;
    const asked = refreshAsks;
    token = await refreshToken();
    // A 4002 that came while this refresh ran asks for another: only older asks are answered.
    if (refreshAsks === asked) mustRefresh = false;
    return true;
  };

  const schedule = (t: string): void => {
    if (timer !== undefined) clearTimeout(timer);
    const exp = tokenExpiry(t);
    if (exp === undefined || !refreshToken || !refreshInBand) return;
    const delay = Math.max(1000, exp - Date.now() - (options.refreshBeforeMs ?? 30_000));
    if (delay > MAX_TIMER_MS) {
      timer = setTimeout(() => schedule(t), MAX_TIMER_MS);
      return;
    }
    const at = epoch();
    timer = setTimeout(() => {
      refreshToken()
        .then(async (next) => {
          if (at !== epoch()) return;
          token = next;
          await refreshInBand(next);
          schedule(next);
        })
        // The server closes with 4002 at expiry, and the client refreshes then.
        .catch((error: unknown) => notify(options.onCredentialError, error));
    }, delay);
  };

  return {
    ask() {
      mustRefresh = true;
      refreshAsks++;
    },
    refreshIfAsked,
    async read() {
      // Without refreshToken, the app's current token is read for every attempt.
      if (!(await refreshIfAsked()) && (token === undefined || !refreshToken))
        token = await getToken!();
      return token!;
    },
    schedule,
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
    },
    reset() {
      mustRefresh = false;
      token = undefined;
    },
  };
}
