/**
 * A frame's decision as the transport sees it: deliver (with the parsed value), reply with an
 * error frame, or close with the contract's code.
 *
 * @module
 */
import type { MessageRejectReason } from '../core/codes.ts';
import type { ReportedIssue } from './parse.ts';

/** A message's fate. */
export type MessageDecision =
  | {
      /** Hand the message to the app. */
      readonly action: 'deliver';
      /** Parsed JSON (or the raw frame when `messages.json` is false). */
      readonly value: unknown;
      /** True for the first message that authenticated a pending connection. */
      readonly authenticated?: boolean;
    }
  | {
      /** Drop the message and send `reply` to the client; the connection stays open. */
      readonly action: 'reply';
      /** Why. */
      readonly reason: MessageRejectReason;
      /** The error frame to send. */
      readonly reply: ErrorReply;
    }
  | {
      /** Close the connection with `code`. */
      readonly action: 'close';
      /** Why. */
      readonly reason: MessageRejectReason;
      /** Close code from the contract. */
      readonly code: number;
      /** Short close reason, never secret. */
      readonly message: string;
    };

/** The error frame sent back for a refused message. */
export interface ErrorReply {
  /** The error. */
  readonly error: {
    /** Stable code: BAD_REQUEST, FORBIDDEN, TOO_MANY_REQUESTS. */
    readonly code: 'BAD_REQUEST' | 'FORBIDDEN' | 'TOO_MANY_REQUESTS';
    /** Short message. */
    readonly message: string;
    /** Validation issues, capped. */
    readonly issues?: readonly ReportedIssue[];
    /** Milliseconds to wait, for rate limits. */
    readonly retryAfterMs?: number;
  };
}
