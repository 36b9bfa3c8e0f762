/**
 * The terminal report, one line per finding (also printed as progress while the audit runs) and a
 * summary.
 *
 * @module
 */
import type { Finding } from './finding.ts';
import type { Report } from './report-json.ts';

const MARK = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP', 'not-run': 'NOT RUN' };

/** One finding as a terminal line. */
export function findingLine(f: Finding): string {
  const sev = f.verdict === 'fail' || f.verdict === 'warn' ? ` [${f.severity}]` : '';
  return `${MARK[f.verdict].padEnd(7)} ${f.check}${sev}: ${f.observed}   (safe: ${f.expected})`;
}

/** The whole report as text. */
export function renderText(report: Report): string {
  const s = report.summary;
  if (s.verdict === 'unreachable') return `UNREACHABLE ${report.target}: ${s.unreachable}`;
  const b = s.bySeverity;
  return [
    ...report.findings.map(findingLine),
    '',
    `${s.verdict.toUpperCase()}: high ${b.high}, medium ${b.medium}, low ${b.low} (failed or warned); ${report.durationMs} ms`,
  ].join('\n');
}
