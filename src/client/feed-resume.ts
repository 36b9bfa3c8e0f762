/**
 * Subscriptions over an event feed that survive the feed's failures: on "resume" (the server's
 * follower fell behind, or its feed closed) subscribe again from the last event id received, as
 * tRPC's `retryLink` does with `tracked()` ids; on "reload" (the events are gone) hand the error
 * to the app, which must reload its state. Without this link tRPC resumes only after a reconnect,
 * and a subscription that errors on an open socket simply ends.
 *
 * @module
 */
import { retryLink, type TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { FeedErrorCode, type FeedErrorCodeValue } from '../core/feed-error-codes.ts';

const CODES: ReadonlySet<string> = new Set(Object.values(FeedErrorCode));

/**
 * The feed code of a subscription's error (`error.data.wsguardCode`, set by `wsguard/trpc`), or
 * `undefined` when the error is not a feed's failure.
 *
 * @example
 * ```ts
 * onError: (error) => {
 *   if (feedErrorCode(error) === FeedErrorCode.Reload) reloadRoom();
 * },
 * ```
 */
export function feedErrorCode(error: unknown): FeedErrorCodeValue | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { data?: { wsguardCode?: unknown }; shape?: { data?: unknown } };
  const code =
    e.data?.wsguardCode ?? (e.shape?.data as { wsguardCode?: unknown } | undefined)?.wsguardCode;
  return typeof code === 'string' && CODES.has(code) ? (code as FeedErrorCodeValue) : undefined;
}

/** Options for {@link feedResumeLink}. */
export interface FeedResumeLinkOptions {
  /**
   * Told when a subscription's events are gone ({@link FeedErrorCode.Reload}); the error also
   * reaches the subscription's own `onError`. Reload the state, then subscribe from now.
   */
  readonly onReload?: (error: unknown) => void;
  /**
   * Resumes in a row that receive no event before failing again; past it the error reaches the
   * subscription (a subscriber that cannot keep up at all must not loop forever).
   * @default 5
   */
  readonly maxResumes?: number;
  /**
   * Wait before a resume, in ms, by resumes in a row (the first is 1).
   * @default 50 ms doubled per resume in a row, at most 2000
   */
  readonly delayMs?: (resumesInARow: number) => number;
}

/** The `lastEventId` in an operation's input, as `retryLink` sets it. */
function lastEventIdOf(input: unknown): unknown {
  return typeof input === 'object' && input !== null
    ? (input as { lastEventId?: unknown }).lastEventId
    : undefined;
}

/**
 * A tRPC link, put before `wsLink`, that resubscribes from the last event id when a subscription
 * fails with {@link FeedErrorCode.Resume} and tells `onReload` on {@link FeedErrorCode.Reload}.
 * Queries and mutations pass through untouched.
 *
 * @example
 * ```ts
 * const trpc = createTRPCClient<AppRouter>({
 *   links: [feedResumeLink({ onReload: () => location.reload() }), wsLink({ client: ws.client })],
 * });
 * ```
 */
export function feedResumeLink<TRouter extends AnyRouter = AnyRouter>(
  options: FeedResumeLinkOptions = {},
): TRPCLink<TRouter> {
  const maxResumes = options.maxResumes ?? 5;
  const delayMs = options.delayMs ?? ((n: number) => Math.min(2000, 50 * 2 ** (n - 1)));
  // Per operation: the last id it resumed from and how many resumes in a row saw no new event.
  const progress = new Map<number, { last: unknown; inARow: number }>();
  let lastInARow = 1;
  return retryLink<TRouter>({
    retry: ({ op, error }) => {
      const code = op.type === 'subscription' ? feedErrorCode(error) : undefined;
      if (code !== FeedErrorCode.Resume) {
        progress.delete(op.id);
        if (code === FeedErrorCode.Reload) options.onReload?.(error);
        return false;
      }
      const last = lastEventIdOf(op.input);
      const seen = progress.get(op.id);
      const inARow = seen !== undefined && seen.last === last ? seen.inARow + 1 : 1;
      if (inARow > maxResumes) {
        progress.delete(op.id);
        return false;
      }
      // Bounded: an app with thousands of subscriptions that fail keeps only recent entries.
      if (progress.size >= 1024 && !progress.has(op.id)) {
        progress.delete(progress.keys().next().value as number);
      }
      progress.set(op.id, { last, inARow });
      lastInARow = inARow;
      return true;
    },
    retryDelayMs: () => delayMs(lastInARow),
  });
}
