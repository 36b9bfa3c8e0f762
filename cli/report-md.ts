/**
 * The Markdown report (`--md <file>`): a summary, then one table row per finding, then the
 * fixes for what failed.
 *
 * @module
 */
import type { Report } from './report-json.ts';

const MARK = {
  pass: '✅ pass',
  fail: '❌ fail',
  warn: '⚠️ warn',
  skip: '⏭️ skip',
  'not-run': '⏸️ not run',
};

/** Escape a table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Render `report` as Markdown. */
export function renderMarkdown(report: Report): string {
  const s = report.summary;
  const lines = [
    `# wsguard audit: ${report.target}`,
    '',
    `- verdict: **${s.verdict}**${s.unreachable ? ` (${s.unreachable})` : ''}`,
    `- started: ${report.startedAt}, took ${report.durationMs} ms`,
    `- tool: ${report.tool.name} ${report.tool.version}`,
    `- failed or warned by severity: high ${s.bySeverity.high}, medium ${s.bySeverity.medium}, low ${s.bySeverity.low}, info ${s.bySeverity.info}`,
    '',
    '| verdict | severity | check | observed | safe server |',
    '| --- | --- | --- | --- | --- |',
    ...report.findings.map(
      (f) =>
        `| ${MARK[f.verdict]} | ${f.severity} | ${cell(f.check)} | ${cell(f.observed)} | ${cell(f.expected)} |`,
    ),
  ];
  const fixes = report.findings.filter((f) => f.fix !== undefined);
  if (fixes.length > 0) {
    lines.push('', '## Fixes', '');
    for (const f of fixes)
      lines.push(
        `- **${cell(f.check)}** (${f.severity}): ${f.fix}${f.evidence ? ` Evidence: \`${f.evidence.replace(/`/g, "'")}\`` : ''}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
