/**
 * A subscription that ended because its event feed failed is answered with a stable code, not
 * with tRPC's generic internal error: the client must tell "resume from your last id" (the
 * follower fell behind, or the feed closed) from "reload" (the events are gone), and a message's
 * wording is no contract. The code rides in `error.data.wsguardCode`, next to tRPC's own `code`.
 *
 * @module
 */
import { TRPCError } from '@trpc/server';
import { FeedErrorCode, type FeedErrorCodeValue } from '../core/feed-error-codes.ts';
import { FeedError } from '../feed/feed-error.ts';

/** The error a failed feed is answered with, and its contract code. */
export interface FeedFailure {
  /** What the client receives (its tRPC code and a fixed message). */
  readonly error: TRPCError;
  /** The stable code put in `data.wsguardCode`. */
  readonly code: FeedErrorCodeValue;
}

/** The feed error in `cause` or its causes (tRPC may wrap it), if any. */
function findFeedError(cause: unknown): FeedError | undefined {
  let current = cause;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof FeedError) return current;
    current = current.cause;
  }
  return undefined;
}

/** The answer to a subscription that failed with `cause`, when that is a feed's failure. */
export function feedFailure(cause: unknown): FeedFailure | undefined {
  const feed = findFeedError(cause);
  if (feed === undefined) return undefined;
  switch (feed.reason) {
    case 'overflow':
      return {
        code: FeedErrorCode.Resume,
        error: new TRPCError({
          code: 'TIMEOUT',
          message: 'subscriber fell behind; subscribe again from the last event id',
          cause: feed,
        }),
      };
    case 'closed':
      return {
        code: FeedErrorCode.Resume,
        error: new TRPCError({
          code: 'SERVICE_UNAVAILABLE',
          message: 'event feed closed; subscribe again from the last event id',
          cause: feed,
        }),
      };
    default:
      return {
        code: FeedErrorCode.Reload,
        error: new TRPCError({
          code: 'PRECONDITION_FAILED',
          message: 'events after the last event id are no longer held; reload, then subscribe',
          cause: feed,
        }),
      };
  }
}

/** `shape` with `data.wsguardCode` set to `code` (copied: tRPC may cache the shape it built). */
export function withFeedCode(shape: unknown, code: FeedErrorCodeValue): unknown {
  if (typeof shape !== 'object' || shape === null) return shape;
  const record = shape as Record<string, unknown>;
  const data = record['data'];
  const base = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  return { ...record, data: { ...base, wsguardCode: code } };
}
