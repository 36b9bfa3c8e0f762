import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AuditResult } from '../../cli/audit.ts';
import { banOf } from '../../cli/ban.ts';
import { findLeak } from '../../cli/probe-leakage.ts';
import { buildReport } from '../../cli/report-json.ts';
import { renderMarkdown } from '../../cli/report-md.ts';
import { check } from './schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../cli/report.schema.json', import.meta.url), 'utf8'),
);

const result: AuditResult = {
  target: 'ws://127.0.0.1:8787/ws',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1234,
  findings: [
    {
      id: 'transport',
      check: 'transport',
      category: 'transport',
      verdict: 'warn',
      severity: 'low',
      expected: 'wss:// (TLS)',
      observed: 'plain ws:// on loopback',
      fix: 'Serve over TLS.',
    },
    {
      id: 'origin.foreign',
      check: 'foreign Origin',
      category: 'origin',
      verdict: 'fail',
      severity: 'high',
      expected: 'HTTP 403 or close 4003',
      observed: 'accepted | open',
      evidence: 'a `b`',
      fix: 'Allow only your origins.',
    },
    {
      id: 'compression.inflate-bomb',
      check: 'inflate bomb (one frame inflating to 16 MiB)',
      category: 'compression',
      verdict: 'fail',
      severity: 'high',
      expected: 'close 1009',
      observed: 'inflated and answered: the 16 MiB frame reached the app',
      fix: 'Bound the size after inflating.',
    },
    {
      id: 'defence.ban',
      check: 'repeat attacker banned',
      category: 'defence',
      verdict: 'pass',
      severity: 'info',
      expected: 'a ban',
      observed: 'repeat attacker banned after 5 probes (6 connections), for 300 s',
    },
    {
      id: 'leakage',
      check: 'leakage',
      category: 'leakage',
      verdict: 'not-run',
      severity: 'info',
      expected: 'nothing internal',
      observed: 'not run: banned',
    },
  ],
};
const tool = { name: 'wsguard', version: '9.9.9' };

describe('audit reports', () => {
  it('JSON: conforms to cli/report.schema.json; the verdict follows --fail-on', () => {
    const report = buildReport(tool, result, { waitMs: 3000 }, 'high');
    expect(check(schema, JSON.parse(JSON.stringify(report)))).toEqual([]);
    expect(report.summary).toEqual({
      bySeverity: { info: 0, low: 1, medium: 0, high: 2 },
      verdict: 'insecure',
    });
    const onlyLow = { ...result, findings: result.findings.filter((f) => f.severity !== 'high') };
    expect(buildReport(tool, onlyLow, {}, 'high').summary.verdict).toBe('secure');
    expect(buildReport(tool, onlyLow, {}, 'low').summary.verdict).toBe('insecure');
    expect(
      buildReport(tool, { ...result, unreachable: 'refused' }, {}, 'high').summary.verdict,
    ).toBe('unreachable');
  });

  it('the schema checker catches a wrong report (so the check above can fail)', () => {
    const report = JSON.parse(JSON.stringify(buildReport(tool, result, {}, 'high')));
    report.findings[0].verdict = 'maybe';
    report.findings[2].category = 'zip';
    report.summary.extra = 1;
    delete report.tool.version;
    expect(check(schema, report)).toEqual([
      '$.tool: missing version',
      '$.summary: unexpected extra',
      '$.findings[0].verdict: "maybe" not in enum',
      '$.findings[2].category: "zip" not in enum',
    ]);
  });

  it('Markdown: summary, one row per finding, escaped cells, fixes', () => {
    expect(renderMarkdown(buildReport(tool, result, {}, 'high'))).toMatchSnapshot();
  });
});

describe('ban and leak detection', () => {
  const base = { opened: false, frames: 0, replies: [], ms: 1 };
  it('reads a ban from 403 + Retry-After, a 403 "banned" body, and a 4030 close', () => {
    expect(banOf({ ...base, status: 403, retryAfter: '300', body: 'banned' })?.seconds).toBe(300);
    expect(banOf({ ...base, status: 403, body: 'banned' })).toBeDefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(
      banOf(
        { ...base, opened: true, closeCode: 4030, reason: 'banned until 2026-01-01T00:05:00.000Z' },
        now,
      )?.seconds,
    ).toBe(300);
  });
  it('does not read an origin 403 or a 429 as a ban', () => {
    expect(banOf({ ...base, status: 403, body: 'origin not allowed' })).toBeUndefined();
    expect(banOf({ ...base, status: 429, retryAfter: '1' })).toBeUndefined();
    expect(banOf({ ...base, opened: true, closeCode: 4001 })).toBeUndefined();
  });
  it('finds stack traces, paths and secrets, and not the audit payloads', () => {
    expect(findLeak('TypeError: x\n    at handle (/srv/app/dist/server.js:10:5)')?.kind).toBe(
      'stack trace',
    );
    expect(findLeak('cannot open /home/deploy/app/config.json')?.kind).toBe('internal path');
    expect(findLeak('{"password":"hunter22"}')?.kind).toBe('secret value');
    for (const ok of [
      '{"error":{"code":"BAD_REQUEST","message":"message refused: too deep"}}',
      '{',
      'null',
      '{"type":"chat","__proto__":{"isAdmin":true}}',
    ])
      expect(findLeak(ok)).toBeUndefined();
  });
});
