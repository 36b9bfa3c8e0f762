/**
 * Continuity of a topic: every event carries its sequence number `n` (the publish script adds
 * one to the last), so whoever reads can tell that the entry it got is the successor of the last
 * it delivered. Anything else means events were trimmed (`maxLen`), expired, or lost with a Redis
 * that restarted without persistence while this reader was not reading: a follower is then told
 * (`trimmed`, "reload"), never handed a silent jump.
 *
 * @module
 */
import { FeedError } from './feed-error.ts';

/**
 * Whether `n` comes right after `prev`. An unknown number on either side (an entry written
 * without one, a follower that has delivered nothing yet) cannot be checked and passes.
 */
export function follows(prev: number | undefined, n: number | undefined): boolean {
  return prev === undefined || n === undefined || n === prev + 1;
}

/** The failure of a follower of `topic` that cannot get the events between `prev` and `n`. */
export function gapError(topic: string, prev: number, n: number): FeedError {
  const missing = n > prev ? `${n - prev - 1} events` : 'events';
  return new FeedError(
    'trimmed',
    topic,
    `${missing} of "${topic}" after #${prev} are no longer held; reload and follow from null`,
  );
}
