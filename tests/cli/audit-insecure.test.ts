import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../cli/report-json.ts';
import { type InsecureServer, startInsecureServer } from '../fixtures/insecure-server.ts';
import { runCli } from './run-cli.ts';
import { check } from './schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../cli/report.schema.json', import.meta.url), 'utf8'),
);
let server: InsecureServer;
beforeAll(async () => {
  server = await startInsecureServer();
});
afterAll(() => server.close());

/** What the audit must say about a bare `ws` echo server, probe by probe. */
const EXPECTED: Record<string, [string, string]> = {
  transport: ['warn', 'low'],
  'origin.foreign': ['fail', 'high'],
  'origin.lookalike': ['fail', 'high'],
  'origin.null': ['fail', 'high'],
  'origin.downgrade': ['skip', 'info'],
  'origin.missing': ['pass', 'info'],
  'credentials.missing': ['fail', 'high'],
  'credentials.idle': ['fail', 'medium'],
  'credentials.malformed': ['fail', 'high'],
  'credentials.unsigned': ['fail', 'high'],
  'credentials.wrong-key': ['fail', 'high'],
  'credentials.expired': ['skip', 'info'],
  'credentials.ticket': ['fail', 'high'],
  'messages.deep-json': ['fail', 'medium'],
  'messages.malformed': ['fail', 'low'],
  'messages.prototype-key': ['fail', 'medium'],
  // `ws` validates UTF-8 itself (RFC 6455): the one thing a bare server gets right.
  'messages.invalid-utf8': ['pass', 'info'],
  'messages.binary': ['pass', 'info'],
  'messages.rate': ['fail', 'medium'],
  'messages.size': ['fail', 'medium'],
  'connections.rate': ['fail', 'medium'],
  'connections.per-address': ['fail', 'medium'],
  leakage: ['pass', 'info'],
};

describe('wsguard audit against an insecure server (bare ws, echo)', () => {
  it('flags each probe with its severity, writes a schema-valid JSON and a Markdown report, exits 1', async () => {
    const md = join(mkdtempSync(join(tmpdir(), 'wsguard-cli-')), 'report.md');
    const run = await runCli([
      'audit',
      server.url,
      '--json',
      '--wait=400',
      '--auth-wait',
      '800',
      '--md',
      md,
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(check(schema, report)).toEqual([]);
    const got = Object.fromEntries(report.findings.map((f) => [f.id, [f.verdict, f.severity]]));
    expect(got).toEqual(EXPECTED);
    expect(report.summary.verdict).toBe('insecure');
    expect(report.summary.bySeverity).toEqual({ info: 0, low: 2, medium: 7, high: 8 });
    expect(report.findings.find((f) => f.id === 'messages.prototype-key')?.evidence).toContain(
      '__proto__',
    );
    for (const f of report.findings.filter((x) => x.verdict === 'fail')) expect(f.fix).toBeTruthy();
    // Progress went to stderr, one line per finding, so stdout stayed clean JSON.
    expect(run.stderr.split('\n').filter((l) => /^(PASS|FAIL|WARN|SKIP)/.test(l)).length).toBe(
      report.findings.length,
    );
    const text = readFileSync(md, 'utf8');
    expect(text).toContain('verdict: **insecure**');
    expect(text).toContain('| ❌ fail | high | foreign Origin (cross-site WebSocket hijacking) |');
  }, 60_000);

  it('flags a server whose errors carry stack traces (leakage, medium)', async () => {
    const leaky = await startInsecureServer({ leakStacks: true });
    try {
      const run = await runCli([
        'audit',
        leaky.url,
        '--json',
        '--wait',
        '400',
        '--auth-wait',
        '400',
        '--quiet',
      ]);
      expect(run.code).toBe(1);
      const leak = (JSON.parse(run.stdout) as Report).findings.find((f) => f.id === 'leakage');
      expect(leak).toMatchObject({ verdict: 'fail', severity: 'medium' });
      expect(leak?.evidence).toMatch(/at .*:\d+:\d+/);
    } finally {
      await leaky.close();
    }
  }, 60_000);
});
