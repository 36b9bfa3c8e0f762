/**
 * Redis stream ids (`<ms>-<seq>`) as the feed accepts them from clients and orders them: only
 * canonical ids (no leading zeros, each part an unsigned 64-bit integer), so that two ids compare
 * as digit strings, without BigInt on the fan-out path.
 *
 * @module
 */

const MAX_U64 = 18_446_744_073_709_551_615n;
// Canonical ids only (no leading zeros), so that ids compare as digit strings.
const ID_RE = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;

/**
 * Whether `value` is a stream id a client may resume from (`<ms>-<seq>`, each a canonical
 * unsigned 64-bit integer). Use it in the input schema of a subscription.
 *
 * @example
 * ```ts
 * z.object({ room: Room, lastEventId: z.string().refine(isStreamId).nullish() })
 * ```
 */
export function isStreamId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = ID_RE.exec(value);
  return m !== null && BigInt(m[1]!) <= MAX_U64 && BigInt(m[2]!) <= MAX_U64;
}

function comparePart(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of two canonical stream ids, without BigInt on the fan-out path. */
export function compareIds(a: string, b: string): number {
  const i = a.indexOf('-');
  const j = b.indexOf('-');
  return comparePart(a.slice(0, i), b.slice(0, j)) || comparePart(a.slice(i + 1), b.slice(j + 1));
}
