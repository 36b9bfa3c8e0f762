/**
 * One line of an audit report, with what a probe expected, what the server did, how bad it is and
 * the fix. Severities rank what a failure costs; a passing probe is `info`.
 *
 * @module
 */

/** How bad a finding is, lowest first. */
export type Severity = 'info' | 'low' | 'medium' | 'high';

/** Every severity, lowest first (the order `--fail-on` compares by). */
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high'];

/**
 * A probe's verdict. `skip`: the probe needs something the audit was not given; `not-run`: a
 * defence (a ban) stopped the audit before this probe, which is not a failure.
 */
export type Verdict = 'pass' | 'fail' | 'warn' | 'skip' | 'not-run';

/** What part of the endpoint a probe attacks. */
export type Category =
  | 'transport'
  | 'origin'
  | 'credentials'
  | 'messages'
  | 'connections'
  | 'compression'
  | 'leakage'
  | 'defence'
  | 'dependencies';

/** One line of the report. */
export interface Finding {
  /** Stable probe id, e.g. `origin.foreign`. */
  readonly id: string;
  /** What the probe tries, in words. */
  readonly check: string;
  /** What it attacks. */
  readonly category: Category;
  /** Verdict. */
  readonly verdict: Verdict;
  /** How bad it is (`info` for a pass, a skip or a probe that did not run). */
  readonly severity: Severity;
  /** What a safe server does. */
  readonly expected: string;
  /** What this one did. */
  readonly observed: string;
  /** Raw detail backing the verdict (a reply, a header), when there is one. */
  readonly evidence?: string;
  /** How to fix a failure. */
  readonly fix?: string;
  /** The local source address the probe ran from, when `--source` spread them. */
  readonly source?: string;
}

/** Whether `s` ranks at or above `floor`. */
export function atLeast(s: Severity, floor: Severity): boolean {
  return SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(floor);
}

/** A finding counts against the server when it failed or warned at or above `floor`. */
export function counts(f: Finding, floor: Severity): boolean {
  return (f.verdict === 'fail' || f.verdict === 'warn') && atLeast(f.severity, floor);
}
