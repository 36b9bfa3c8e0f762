/**
 * The stable codes a subscription's error carries when its event feed failed, so a client can
 * tell "resume" from "reload" without matching message text. They are part of the published
 * contract next to the close codes: `wsguard/trpc` puts one in `error.data.wsguardCode`, and
 * `wsguard/client` reads it (`feedErrorCode`, `feedResumeLink`).
 *
 * @module
 */

/** Why a subscription over an event feed ended with an error, by name. */
export const FeedErrorCode = {
  /**
   * The server's follower fell behind (the subscriber read too slowly) or its feed closed, and
   * the events are still held: subscribe again from the last event id received. Sent with tRPC
   * code `TIMEOUT` (overflow) or `SERVICE_UNAVAILABLE` (feed closed).
   */
  Resume: 'WSGUARD_FEED_RESUME',
  /**
   * The events after the subscriber's last id are gone (trimmed by the stream's length, expired,
   * lost with Redis, or a gap the reader saw): resuming would skip them silently. Reload the
   * state, then subscribe from now. Sent with tRPC code `PRECONDITION_FAILED`.
   */
  Reload: 'WSGUARD_FEED_RELOAD',
} as const;

/** One of the codes in {@link FeedErrorCode}. */
export type FeedErrorCodeValue = (typeof FeedErrorCode)[keyof typeof FeedErrorCode];
