/**
 * Errors thrown by wsguard. Modelled on jose: one base class with a stable `code`, generic
 * messages (details on properties, never secrets), and a brand check that works when two copies
 * of the package (npm and JSR) coexist in one process.
 *
 * @module
 */
import { bannedReason } from './ban-reason.ts';

/** Stable error codes; switch on these, not on messages. */
export type GuardErrorCode =
  | 'ERR_WSGUARD_CONFIG'
  | 'ERR_WSGUARD_STORE'
  | 'ERR_WSGUARD_CREDENTIALS'
  | 'ERR_WSGUARD_EXPIRED'
  | 'ERR_WSGUARD_TICKET'
  | 'ERR_WSGUARD_BANNED'
  | 'ERR_WSGUARD_CAP'
  | 'ERR_WSGUARD_FEED';

const BRAND = Symbol.for('wsguard.error');

/** Base class of every error wsguard throws on purpose. */
export class GuardError extends Error {
  /** Stable machine-readable code. */
  readonly code: GuardErrorCode;
  /** An error with a stable `code`; `cause` is kept for the logs, never shown to clients. */
  constructor(code: GuardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuardError';
    this.code = code;
    // A global-symbol brand, so errors from another copy of wsguard (npm and JSR) are recognised.
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * Thrown by `createGuard` when the options are unsafe or malformed. `problems` lists every issue
 * found, each with how to fix it, so one start-up shows all of them at once.
 */
export class GuardConfigError extends GuardError {
  /** Every problem found, each phrased as what is wrong and how to fix it. */
  readonly problems: readonly string[];

  /** One error listing every problem found. */
  constructor(problems: readonly string[]) {
    super(
      'ERR_WSGUARD_CONFIG',
      `wsguard refused unsafe or invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'GuardConfigError';
    this.problems = problems;
  }
}

/** Thrown (or reported) when the store cannot answer; the guard fails closed on it. */
export class StoreUnavailableError extends GuardError {
  /** The store failed or timed out; the original failure is the `cause`. */
  constructor(message = 'store unavailable', options?: { cause?: unknown }) {
    super('ERR_WSGUARD_STORE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A credential was missing, malformed, forged or expired. `expired` tells which. */
export class CredentialError extends GuardError {
  /** True when the credential was genuine but past its lifetime (close 4002, not 4001). */
  readonly expired: boolean;

  /** A refused credential; `expired` selects 4002 over 4001. */
  constructor(message: string, expired = false, options?: { cause?: unknown }) {
    super(expired ? 'ERR_WSGUARD_EXPIRED' : 'ERR_WSGUARD_CREDENTIALS', message, options);
    this.name = 'CredentialError';
    this.expired = expired;
  }
}

/** The IP or user is banned until `until`: refused, and told until when (close 4030, HTTP 403). */
export class BannedError extends GuardError {
  /** The ban's end, ms since epoch. */
  readonly until: number;

  /** A refusal for a ban ending at `until`. */
  constructor(until: number) {
    super('ERR_WSGUARD_BANNED', bannedReason(until));
    this.name = 'BannedError';
    this.until = until;
  }
}

/** True for any error created by any copy of wsguard (brand check, not `instanceof`). */
export function isGuardError(value: unknown): value is GuardError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true
  );
}
