/**
 * The unstorage store's records, as stored (JSON through unstorage), and their checks. A value
 * this store did not write is refused, never guessed at.
 *
 * @module
 */
import { StoreUnavailableError } from '../core/errors.ts';

// Every record carries its expiry `e` (ms), because the driver may ignore TTLs: a record read
// past `e` is treated as absent.

/** A value (a ticket, a ban). */
export interface KvRecord {
  /** The value. */
  v: string;
  /** Expiry, ms. */
  e: number;
}
/** A rate state. */
export interface TatRecord {
  /** The GCRA's theoretical arrival time, ms. */
  t: number;
  /** Expiry, ms: the TAT itself. */
  e: number;
}
/** A lease set. */
export interface LeaseRecord {
  /** Leases in acquisition order (the first is the oldest): [id, expiry]. */
  l: [string, number][];
  /** Expiry, ms: that of the last lease. */
  e: number;
}
/** A decaying penalty score. */
export interface ScoreRecord {
  /** The score at `a`. */
  s: number;
  /** When the score was last updated, ms. */
  a: number;
  /** Expiry, ms. */
  e: number;
}

/** A finite number (JSON may hand back anything). */
export const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** A record of this store: an object with an expiry. */
export function isRecord(x: unknown): x is { e: number } & Record<string, unknown> {
  return typeof x === 'object' && x !== null && isNum((x as { e?: unknown }).e);
}

/** Reject a value this store did not write: fail closed rather than guess (a cap, a ban). */
export function malformed(key: string): never {
  throw new StoreUnavailableError(`unstorage store: unexpected value at ${key}`);
}
