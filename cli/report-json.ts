/**
 * The JSON report (`--json`), described by `cli/report.schema.json`: the tool, the target, when
 * and how long, the options (tokens redacted), a summary by severity with the verdict, and every
 * finding.
 *
 * @module
 */
import type { AuditArgs } from './args.ts';
import type { AuditResult } from './audit.ts';
import { counts, type Finding, SEVERITIES, type Severity } from './finding.ts';
import type { ToolInfo } from './version.ts';

/** The audit's overall verdict. */
/**
 * The audit's overall verdict. `incomplete`: every source address was banned before the first
 * probe, so nothing was tested (exit 0: not a failure, but not a pass a CI gate should trust).
 */
export type OverallVerdict = 'secure' | 'insecure' | 'unreachable' | 'incomplete';

/** The JSON report. */
export interface Report {
  readonly tool: ToolInfo;
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly options: Record<string, unknown>;
  readonly summary: {
    /** Failed or warned findings per severity. */
    readonly bySeverity: Record<Severity, number>;
    readonly verdict: OverallVerdict;
    /** Why the target is unreachable, when it is. */
    readonly unreachable?: string;
  };
  readonly findings: readonly Finding[];
}

/** The options as the report shows them: tokens never, only whether one was given. */
export function reportOptions(a: AuditArgs): Record<string, unknown> {
  return {
    origin: a.origin ?? null,
    token: a.token !== undefined ? 'given (redacted)' : null,
    expiredToken: a.expiredToken !== undefined ? 'given (redacted)' : null,
    waitMs: a.waitMs,
    authWaitMs: a.authWaitMs,
    connectTimeoutMs: a.connectTimeoutMs,
    failOn: a.failOn,
    sources: a.sources ? a.sources.length : null,
    project: a.project ?? null,
    // A key file's path and public URLs are not secrets; the ticket URL may carry a query, so
    // only its origin and path are shown.
    publicKey: a.publicKey ?? null,
    jwks: a.jwks ?? null,
    ticketUrl: a.ticketUrl !== undefined ? withoutQuery(a.ticketUrl) : null,
    ticketMaxAgeSec: a.ticketMaxAgeSec,
  };
}

/** `url` without its query and fragment. */
function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(unparsable)';
  }
}

/** Build the report. */
export function buildReport(
  tool: ToolInfo,
  result: AuditResult,
  options: Record<string, unknown>,
  failOn: Severity,
): Report {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of result.findings) if (counts(f, 'info')) bySeverity[f.severity]++;
  const verdict: OverallVerdict =
    result.unreachable !== undefined
      ? 'unreachable'
      : result.findings.some((f) => counts(f, failOn))
        ? 'insecure'
        : result.incomplete
          ? 'incomplete'
          : 'secure';
  return {
    tool,
    target: result.target,
    startedAt: result.startedAt,
    durationMs: result.durationMs,
    options,
    summary: {
      bySeverity,
      verdict,
      ...(result.unreachable !== undefined ? { unreachable: result.unreachable } : {}),
    },
    findings: result.findings,
  };
}
