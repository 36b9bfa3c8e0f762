import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from '../../cli/report-json.ts';
import { type GuardedEcho, sign, startGuarded } from './guarded-server.ts';
import { runCli } from './run-cli.ts';
import { check } from './schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../cli/report.schema.json', import.meta.url), 'utf8'),
);
// A fresh server per test: a ban from one test must not reach the next.
let server: GuardedEcho;
beforeEach(async () => {
  server = await startGuarded();
});
afterEach(() => server.close());

async function auditArgs(...extra: string[]): Promise<string[]> {
  const token = await sign('auditor');
  const expired = await sign('old', Math.floor(Date.now() / 1000) - 120);
  return [
    'audit',
    server.url,
    '--origin',
    server.origin,
    '--token',
    token,
    '--expired-token',
    expired,
    '--wait',
    '1500',
    '--json',
    '--quiet',
    ...extra,
  ];
}

describe('wsguard audit against a guarded server (default penalties)', () => {
  it('reports its own ban as a defence, the probes after it as not run, and exits 0', async () => {
    const run = await runCli(await auditArgs());
    const report = JSON.parse(run.stdout) as Report;
    expect(check(schema, report)).toEqual([]);
    expect(report.findings.filter((f) => f.severity === 'high')).toEqual([]);
    expect(report.findings.filter((f) => f.verdict === 'fail')).toEqual([]);
    const ban = report.findings.filter((f) => f.id === 'defence.ban');
    expect(ban).toHaveLength(1);
    expect(ban[0]!.observed).toMatch(
      /^repeat attacker banned after \d+ probes \(\d+ connections\), for (29\d|300) s$/,
    );
    const notRun = report.findings.filter((f) => f.verdict === 'not-run');
    expect(notRun.length).toBeGreaterThan(0);
    // Everything after the ban is "not run" but the leakage check, which reads what came before.
    const at = report.findings.indexOf(ban[0]!);
    const after = report.findings.slice(at + 1);
    expect(after.filter((f) => f.id !== 'leakage').every((f) => f.verdict === 'not-run')).toBe(
      true,
    );
    expect(after.find((f) => f.id === 'leakage')?.observed).toMatch(/before the ban/);
    expect(report.summary.verdict).toBe('secure');
    expect(run.code).toBe(0);

    // A second run from the same address finds the ban already there: nothing is tested, and the
    // report says so instead of failing the server (the "five FAILs").
    const rerun = await runCli(await auditArgs());
    const again = JSON.parse(rerun.stdout) as Report;
    expect(check(schema, again)).toEqual([]);
    expect(again.summary.verdict).toBe('incomplete');
    expect(rerun.code).toBe(4); // nothing tested: not a pass
    expect(again.findings.filter((f) => f.verdict === 'fail')).toEqual([]);
    expect(again.findings[1]).toMatchObject({ id: 'defence.ban', verdict: 'not-run' });
    expect(again.findings[1]!.observed).toMatch(
      /^already banned before the first probe .* for \d+ s more/,
    );
    expect(again.findings.slice(2).every((f) => f.verdict === 'not-run')).toBe(true);
  }, 60_000);

  it('--source spreads probes over local addresses: every probe runs, each ban is a defence', async () => {
    const run = await runCli(await auditArgs('--source', '127.0.0.2-127.0.0.40'));
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(check(schema, report)).toEqual([]);
    expect(report.findings.filter((f) => f.verdict === 'not-run' || f.verdict === 'fail')).toEqual(
      [],
    );
    const by = Object.fromEntries(report.findings.map((f) => [f.id, f]));
    expect(by['credentials.expired']?.observed).toContain('4002');
    expect(by['messages.size']?.observed).toContain('1009');
    expect(by['messages.rate']?.observed).toContain('4029');
    expect(by['messages.invalid-utf8']?.observed).toContain('1007');
    expect(by['messages.deep-json']?.observed).toContain('too deep');
    expect(by['messages.prototype-key']?.observed).toContain('forbidden key');
    expect(by['connections.rate']?.observed).toContain('429');
    expect(by['connections.per-address']?.verdict).toBe('pass');
    expect(by['credentials.tampered']?.observed).toMatch(/401|4001/);
    // serve() leaves compression off: nothing to inflate.
    expect(by['compression.deflate-unbounded']?.observed).toMatch(/^declined/);
    expect(by['compression.inflate-bomb']?.verdict).toBe('pass');
    const sources = new Set(report.findings.map((f) => f.source));
    expect(sources.size).toBeGreaterThan(1);
    expect(report.findings.filter((f) => f.id === 'defence.ban').length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('--fail-on low counts the plain-ws:// warning: exit 1', async () => {
    const run = await runCli(
      await auditArgs('--fail-on', 'low', '--source', '127.0.0.41-127.0.0.60'),
    );
    const report = JSON.parse(run.stdout) as Report;
    expect(report.summary.bySeverity.low).toBeGreaterThanOrEqual(1);
    expect(report.summary.verdict).toBe('insecure');
    expect(run.code).toBe(1);
  }, 60_000);
});
