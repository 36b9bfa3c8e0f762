/**
 * What a probe is and what it gets to run with. A probe makes a bounded number of attempts,
 * each bounded in time, and judges the answers by their meaning; the runner (audit.ts) turns its
 * judgement into a {@link Finding}, handles bans and skips.
 *
 * @module
 */
import type { Attempt, Outcome } from './attempt.ts';
import type { Category, Severity, Verdict } from './finding.ts';

/** A probe's judgement of what it saw. */
export interface Judgement {
  readonly verdict: Verdict;
  readonly observed: string;
  readonly evidence?: string;
  /** Overrides the probe's severity (e.g. a milder warning). */
  readonly severity?: Severity;
}

/** What every probe of one audit shares. */
export interface ProbeContext {
  /** Target URL. */
  readonly url: string;
  /** An origin the server accepts. */
  readonly origin: string;
  /** How long to watch a connection. */
  readonly waitMs: number;
  /** How long to watch an anonymous socket for its auth deadline. */
  readonly authWaitMs: number;
  /** A valid token, when given. */
  readonly token?: string;
  /** An expired token from the issuer, when given. */
  readonly expiredToken?: string;
  /** `u` with the audit's token, when one was given. */
  readonly authed: (u: string) => string;
  /**
   * A URL that gets an open socket: the token's, or the bare URL when the server was seen to
   * accept anonymous sockets and keep them; `undefined` when neither.
   */
  socketUrl: string | undefined;
  /** The anonymous attempt's outcome, once the credentials probe made it. */
  anonymous?: Outcome;
  /** Make one attempt from the current source; throws `BannedError` on a ban. */
  readonly attempt: (a: Attempt) => Promise<Outcome>;
  /**
   * Move to the next unused `--source` address, if there is one (probes that spend an address's
   * handshake budget start from a fresh one); whether it moved.
   */
  readonly freshSource: () => boolean;
  /** Whether every source address is banned (no attempt can get through any more). */
  banned: boolean;
  /** Every outcome so far (the leakage probe reads replies, reasons and bodies from it). */
  readonly log: Outcome[];
}

/** One probe. */
export interface Probe {
  /** Stable id, e.g. `origin.foreign`. */
  readonly id: string;
  /** What it tries. */
  readonly check: string;
  readonly category: Category;
  /** The severity of a failure. */
  readonly severity: Severity;
  /** What a safe server does. */
  readonly expected: string;
  /** How to fix a failure. */
  readonly fix: string;
  /** `socket`: needs an open socket ({@link ProbeContext.socketUrl}). */
  readonly needs?: 'socket';
  /**
   * Still run once every source is banned (it must then make no attempt): a probe that can judge
   * from what the earlier probes received.
   */
  readonly runsWhenBanned?: boolean;
  readonly run: (ctx: ProbeContext) => Promise<Judgement>;
}

/** A pass. */
export function pass(observed: string, evidence?: string): Judgement {
  return { verdict: 'pass', observed, ...(evidence !== undefined ? { evidence } : {}) };
}

/** A failure at the probe's severity. */
export function fail(observed: string, evidence?: string): Judgement {
  return { verdict: 'fail', observed, ...(evidence !== undefined ? { evidence } : {}) };
}

/** A warning at `severity`. */
export function warn(observed: string, severity: Severity, evidence?: string): Judgement {
  return { verdict: 'warn', observed, severity, ...(evidence !== undefined ? { evidence } : {}) };
}

/** A probe that could not be judged with what the audit was given. */
export function skip(observed: string): Judgement {
  return { verdict: 'skip', observed };
}

/** `url` with `?key=value` set. */
export function withParam(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}
