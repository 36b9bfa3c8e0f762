/**
 * `wsguard audit --project <dir>`: a project's lock file read for WebSocket dependencies with
 * known advisories, in each lock format users have (npm, pnpm, yarn, bun, deno), and the unsafe
 * options it can see in the project's own code. A version past every fix is not flagged; a lock
 * file that cannot be read is said so, never taken as "clean".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { affected } from '../../cli/advisories.ts';
import { scanProject } from '../../cli/project-scan.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsguard-project-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
const npmLock = (packages: Record<string, string>) =>
  JSON.stringify({
    lockfileVersion: 3,
    packages: Object.fromEntries(
      Object.entries(packages).map(([path, version]) => [path, { version }]),
    ),
  });
const ids = (dir: string) =>
  scanProject(dir)
    .filter((f) => f.verdict === 'fail')
    .map((f) => f.id)
    .sort();

describe('advisory ranges', () => {
  it('knows the fixed versions of each line', () => {
    expect(affected('ws', '8.16.0').map((a) => a.id)).toContain('CVE-2024-37890');
    expect(affected('ws', '8.17.1')).toEqual([]);
    expect(affected('ws', '7.5.9').map((a) => a.id)).toContain('CVE-2024-37890');
    expect(affected('ws', '7.5.10')).toEqual([]);
    expect(affected('ws', '7.4.5').map((a) => a.id)).toContain('CVE-2021-32640');
    expect(affected('@trpc/server', '11.1.0').map((a) => a.id)).toEqual(['CVE-2025-43855']);
    expect(affected('@trpc/server', '11.1.1')).toEqual([]);
    expect(affected('@trpc/server', '10.45.2')).toEqual([]);
    expect(affected('engine.io', '6.4.1').map((a) => a.id)).toContain('CVE-2023-31125');
    expect(affected('socket.io-parser', '4.2.2').map((a) => a.id)).toContain('CVE-2023-32695');
    expect(affected('socket.io', '4.6.1').map((a) => a.id)).toContain('CVE-2024-38355');
    expect(affected('ws', 'not-a-version')).toEqual([]);
  });
});

describe('wsguard audit --project', () => {
  it('flags vulnerable WebSocket dependencies in an npm lock, nested copies included', () => {
    const dir = project({
      'package-lock.json': npmLock({
        '': '1.0.0',
        'node_modules/ws': '8.16.0',
        'node_modules/socket.io/node_modules/ws': '8.11.0',
        'node_modules/@trpc/server': '11.0.4',
        'node_modules/jose': '6.0.0',
      }),
    });
    const failed = scanProject(dir).filter((f) => f.verdict === 'fail');
    expect(failed.map((f) => f.id).sort()).toEqual([
      'dependency.@trpc/server@11.0.4.CVE-2025-43855',
      'dependency.ws@8.11.0.CVE-2024-37890',
      'dependency.ws@8.16.0.CVE-2024-37890',
    ]);
    for (const f of failed) {
      expect(f.category).toBe('dependencies');
      expect(f.severity).toBe('high');
      expect(f.fix).toMatch(/upgrade .* to \d+\.\d+\.\d+ or later/);
    }
  });

  it('reads pnpm, yarn, bun and deno locks', () => {
    expect(
      ids(project({ 'pnpm-lock.yaml': 'packages:\n  ws@8.16.0:\n    resolution: {}\n' })),
    ).toEqual(['dependency.ws@8.16.0.CVE-2024-37890']);
    expect(
      ids(project({ 'yarn.lock': 'ws@^8.0.0:\n  version "8.17.0"\n  resolved "x"\n' })),
    ).toEqual(['dependency.ws@8.17.0.CVE-2024-37890']);
    expect(ids(project({ 'bun.lock': '{ "packages": { "ws": ["ws@8.2.0", "", {}] } }' }))).toEqual([
      'dependency.ws@8.2.0.CVE-2024-37890',
    ]);
    expect(ids(project({ 'deno.lock': '{ "npm": { "engine.io@6.4.1": {} } }' }))).toEqual([
      'dependency.engine.io@6.4.1.CVE-2023-31125',
    ]);
  });

  it('passes a project whose WebSocket dependencies are past every fix', () => {
    const findings = scanProject(
      project({ 'package-lock.json': npmLock({ 'node_modules/ws': '8.18.0' }) }),
    );
    expect(findings.filter((f) => f.verdict === 'fail')).toEqual([]);
    expect(findings.find((f) => f.id === 'dependencies')?.verdict).toBe('pass');
  });

  it('says when there is no lock file to read, rather than passing', () => {
    const findings = scanProject(project({ 'package.json': '{}' }));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ id: 'dependencies', verdict: 'warn' });
  });

  it('flags unsafe options it can see in the code, not in node_modules', () => {
    const dir = project({
      'package-lock.json': npmLock({}),
      'src/server.ts': 'createGuard({ dangerouslyAllowAnyOrigin: true, jwt })\n',
      'src/metrics.ts': 'metricsHandler(guard, { public: true })\n',
      'node_modules/x/index.js': 'dangerouslyAllowAnyOrigin: true',
    });
    const failed = scanProject(dir).filter((f) => f.verdict !== 'pass');
    expect(failed.map((f) => f.id).sort()).toEqual([
      'config.dangerouslyAllowAnyOrigin',
      'config.public-metrics',
    ]);
    expect(failed.find((f) => f.id === 'config.dangerouslyAllowAnyOrigin')?.evidence).toMatch(
      /src[/\\]server\.ts:1/,
    );
  });
});

describe('the command line', () => {
  it('adds the project findings to the audit report, and a vulnerable dependency fails it', async () => {
    const { runCli } = await import('./run-cli.ts');
    const { createServer } = await import('node:net');
    // A port nothing listens on: the endpoint is unreachable, the project is still checked.
    const dir = project({ 'package-lock.json': npmLock({ 'node_modules/ws': '8.16.0' }) });
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((r) => probe.close(() => r()));
    const run = await runCli([
      'audit',
      `ws://127.0.0.1:${port}/ws`,
      '--project',
      dir,
      '--json',
      '--quiet',
    ]);
    const report = JSON.parse(run.stdout) as { findings: { id: string; verdict: string }[] };
    expect(report.findings.map((f) => f.id)).toContain('dependency.ws@8.16.0.CVE-2024-37890');
    expect(run.code).toBe(3); // unreachable comes first: the endpoint could not be judged
  }, 30_000);
});
