import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../cli/finding.ts';
import type { Report } from '../../cli/report-json.ts';
import { type GuardedEcho, startGuarded } from './guarded-server.ts';
import { PUBLIC_PEM, signRs256 } from './rsa-keys.ts';
import { runCli } from './run-cli.ts';
import { check } from './schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../cli/report.schema.json', import.meta.url), 'utf8'),
);
const pemFile = join(mkdtempSync(join(tmpdir(), 'wsguard-cli-key-')), 'public.pem');
writeFileSync(pemFile, PUBLIC_PEM);

let server: GuardedEcho | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function byId(report: Report): Record<string, Finding> {
  return Object.fromEntries(report.findings.map((f) => [f.id, f]));
}

describe('the credential, ticket and compression probes against a guarded server', () => {
  it('RS256 with tickets and compression on: tampered, key-confused and replayed credentials are refused, the inflate bomb closed 1009', async () => {
    server = await startGuarded({ rs256: true, tickets: true, compression: true });
    const run = await runCli([
      'audit',
      server.url,
      '--origin',
      server.origin,
      '--token',
      await signRs256('auditor'),
      '--public-key',
      pemFile,
      '--jwks',
      `${server.http}/.well-known/jwks.json`,
      '--ticket-url',
      `${server.http}/ws/ticket`,
      // Spread over addresses: forged credentials get one banned (a defence, reported as such).
      '--source',
      '127.0.0.61-127.0.0.100',
      // With compression on, the guard's 4029 for 5,000 frames comes after ~1.6 s (0.1 s without).
      '--wait',
      '3000',
      '--json',
      '--quiet',
    ]);
    const report = JSON.parse(run.stdout) as Report;
    expect(check(schema, report)).toEqual([]);
    expect(report.findings.filter((f) => f.verdict === 'fail' || f.verdict === 'not-run')).toEqual(
      [],
    );
    const by = byId(report);
    expect(by['credentials.tampered']).toMatchObject({ verdict: 'pass', category: 'credentials' });
    expect(by['credentials.tampered']!.observed).toMatch(/401|4001/);
    // The PEM as given (it ends in a newline: no trimmed twin) and the key set's PEM and JWK JSON.
    expect(by['credentials.alg-confusion']).toMatchObject({ verdict: 'pass' });
    expect(by['credentials.alg-confusion']!.observed).toBe('refused 3 HS256 tokens');
    expect(by['credentials.alg-confusion']!.evidence).toMatch(
      /the JWK JSON: (HTTP 401|opened, then closed 4001)/,
    );
    expect(by['credentials.ticket-replay']).toMatchObject({ verdict: 'pass' });
    expect(by['credentials.ticket-replay']!.observed).toMatch(
      /^first redemption opened; replay refused: (HTTP 401|.*closed 4001)/,
    );
    expect(by['credentials.ticket-lifetime']).toMatchObject({
      verdict: 'pass',
      observed: 'a ticket lives 10 s (stated)',
    });
    expect(by['compression.deflate-unbounded']).toMatchObject({ verdict: 'pass' });
    expect(by['compression.deflate-unbounded']!.observed).toMatch(/^accepted \(permessage-deflate/);
    expect(by['compression.inflate-bomb']).toMatchObject({ verdict: 'pass' });
    expect(by['compression.inflate-bomb']!.observed).toMatch(/closed 1009/);
    expect(by['compression.inflate-bomb']!.category).toBe('compression');
    expect(report.summary.verdict).toBe('secure');
    expect(run.code).toBe(0);
  }, 90_000);

  it('without a token, a key or a ticket URL: each skip says what to give', async () => {
    server = await startGuarded();
    const run = await runCli([
      'audit',
      server.url,
      '--origin',
      server.origin,
      '--source',
      '127.0.0.101-127.0.0.140',
      '--wait',
      '800',
      '--auth-wait',
      '800',
      '--json',
      '--quiet',
    ]);
    const by = byId(JSON.parse(run.stdout) as Report);
    expect(by['credentials.tampered']).toMatchObject({ verdict: 'skip' });
    expect(by['credentials.tampered']!.observed).toContain('--token');
    expect(by['credentials.alg-confusion']!.observed).toContain('--public-key');
    expect(by['credentials.ticket-replay']!.observed).toContain('--ticket-url');
    expect(by['credentials.ticket-lifetime']!.verdict).toBe('skip');
    // No token and no anonymous socket: the compression probes need an open socket.
    expect(by['compression.inflate-bomb']!.verdict).toBe('skip');
  }, 60_000);

  it('an unreadable or private --public-key is a usage error (exit 2)', async () => {
    const missing = await runCli([
      'audit',
      'ws://127.0.0.1:9/ws',
      '--public-key',
      '/nonexistent.pem',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--public-key: cannot read');
    const priv = join(mkdtempSync(join(tmpdir(), 'wsguard-cli-key-')), 'private.pem');
    writeFileSync(priv, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const refused = await runCli(['audit', 'ws://127.0.0.1:9/ws', '--public-key', priv]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('private key');
  }, 30_000);
});
