import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacKeyedToken } from '../../cli/forge.ts';
import type { Report } from '../../cli/report-json.ts';
import { type InsecureServer, startInsecureServer } from '../fixtures/insecure-server.ts';
import { PUBLIC_PEM } from './rsa-keys.ts';
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
  'credentials.tampered': ['fail', 'high'],
  'credentials.alg-confusion': ['fail', 'high'],
  'credentials.expired': ['skip', 'info'],
  'credentials.ticket': ['fail', 'high'],
  // One ticket for everyone, redeemable again and again, said to live an hour.
  'credentials.ticket-replay': ['fail', 'high'],
  'credentials.ticket-lifetime': ['fail', 'medium'],
  'messages.deep-json': ['fail', 'medium'],
  'messages.malformed': ['fail', 'low'],
  'messages.prototype-key': ['fail', 'medium'],
  // `ws` validates UTF-8 itself (RFC 6455): the one thing a bare server gets right.
  'messages.invalid-utf8': ['pass', 'info'],
  'messages.binary': ['pass', 'info'],
  'messages.rate': ['fail', 'medium'],
  'messages.size': ['fail', 'medium'],
  // permessage-deflate on, the inflated size bounded only by ws's 100 MiB: the bomb is echoed.
  'compression.deflate-unbounded': ['fail', 'medium'],
  'compression.inflate-bomb': ['fail', 'high'],
  'connections.rate': ['fail', 'medium'],
  'connections.per-address': ['fail', 'medium'],
  leakage: ['pass', 'info'],
};

describe('wsguard audit against an insecure server (bare ws, echo)', () => {
  it('flags each probe with its severity, writes a schema-valid JSON and a Markdown report, exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-cli-'));
    const md = join(dir, 'report.md');
    const pem = join(dir, 'public.pem');
    writeFileSync(pem, PUBLIC_PEM);
    const run = await runCli([
      'audit',
      server.url,
      // Any well-formed JWT: this server reads none of it.
      '--token',
      hmacKeyedToken('not-a-secret', { sub: 'auditor', roles: ['user'] }),
      '--public-key',
      pem,
      '--ticket-url',
      server.ticketUrl,
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
    expect(report.summary.bySeverity).toEqual({ info: 0, low: 2, medium: 9, high: 12 });
    const by = Object.fromEntries(report.findings.map((f) => [f.id, f]));
    expect(by['credentials.tampered']?.observed).toMatch(/^accepted/);
    expect(by['credentials.alg-confusion']?.observed).toContain('keyed with the PEM file as given');
    expect(by['credentials.ticket-replay']?.observed).toContain('opened a second socket');
    expect(by['credentials.ticket-lifetime']?.observed).toBe('a ticket lives 3600 s (over 60 s)');
    expect(by['credentials.ticket-lifetime']?.evidence).not.toContain('the-same-ticket');
    expect(by['compression.deflate-unbounded']?.observed).toContain(
      'no bound on the inflated size',
    );
    expect(by['compression.inflate-bomb']?.observed).toContain('inflated and answered');
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
