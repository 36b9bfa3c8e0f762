/**
 * How a follower of the feed ends with an error: it did not read (`overflow`), its last id is no
 * longer held (`trimmed`), or the feed closed.
 *
 * @module
 */
import { GuardError } from '../core/errors.ts';

/** Why a follower ended with an error. */
export type FeedErrorReason = 'overflow' | 'trimmed' | 'closed';

/** A follower's (or a closed feed's) failure; `reason` says which. */
export class FeedError extends GuardError {
  /** `overflow`: the follower did not read; `trimmed`: its last id is no longer held; `closed`. */
  readonly reason: FeedErrorReason;
  /** The topic followed. */
  readonly topic: string;

  /** Why the follower of `topic` ended. */
  constructor(reason: FeedErrorReason, topic: string, message: string) {
    super('ERR_WSGUARD_FEED', message);
    this.name = 'FeedError';
    this.reason = reason;
    this.topic = topic;
  }
}
