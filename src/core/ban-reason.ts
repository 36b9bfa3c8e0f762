/**
 * The one writer of a ban's text, shared by the close reason, the HTTP body and the error, so
 * clients can read the end of a ban from any of them.
 *
 * @module
 */

/** The largest time `Date` can show, in ms since the epoch: no ban ends later. */
export const MAX_DATE_MS = 8.64e15;

/**
 * The contract's text for a ban (4030 close reason, HTTP body, error message): `banned until
 * <ISO date>`. Clients read the end from it; one place writes it.
 */
export function bannedReason(until: number): string {
  return `banned until ${new Date(Math.min(until, MAX_DATE_MS)).toISOString()}`;
}
