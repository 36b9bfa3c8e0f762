/**
 * `--project <dir>`: what the audit can see without a socket. The lock file (npm, pnpm, yarn,
 * bun or deno) is read for WebSocket packages with known advisories (`advisories.ts`), every
 * installed copy counted (a vulnerable `ws` nested under another package serves sockets just the
 * same), and the project's own code (not `node_modules`, bounded in files and bytes) for options
 * that turn a defence off. A project without a readable lock file is reported as not checked,
 * never as clean.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { affected, WATCHED } from './advisories.ts';
import type { Finding } from './finding.ts';

const LOCKS = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'pnpm-lock.yaml',
  'yarn.lock',
  'bun.lock',
  'deno.lock',
];
const MAX_FILES = 2000;
const MAX_BYTES = 512 * 1024;

/** `name@version` pairs in a lock file's text, whatever its format. */
function packagesOf(lock: string, text: string): Set<string> {
  const found = new Set<string>();
  const add = (name: string, version: string) => {
    if (WATCHED.has(name)) found.add(`${name}@${version}`);
  };
  if (lock === 'package-lock.json' || lock === 'npm-shrinkwrap.json') {
    const packages = (JSON.parse(text) as { packages?: Record<string, { version?: string }> })
      .packages;
    for (const [path, info] of Object.entries(packages ?? {})) {
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      if (path.includes('node_modules/') && info.version) add(name, info.version);
    }
    return found;
  }
  if (lock === 'yarn.lock') {
    // `ws@^8.0.0, ws@^8.2.0:` then an indented `version "8.17.0"`.
    for (const m of text.matchAll(
      /^"?((?:@[^/\s"]+\/)?[^@\s"]+)@[^\n]*:\n(?:[ \t]+[^\n]*\n)*?[ \t]+version "?([^"\s]+)"?/gm,
    ))
      add(m[1]!, m[2]!);
    return found;
  }
  // pnpm (`ws@8.16.0:`, `/ws@8.16.0:`), bun (`"ws@8.16.0"`), deno (`"npm:ws@8.16.0"`, `"ws@8.16.0"`).
  for (const m of text.matchAll(
    /(?:^|["'\s/:])((?:@[\w.-]+\/)?[\w.-]+)@(\d+\.\d+\.\d+)(?=["'(:_\s,]|$)/gm,
  ))
    add(m[1]!, m[2]!);
  return found;
}

/** Source files of the project itself (not node_modules or build output), bounded. */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (out.length >= MAX_FILES) return;
      if (name === 'node_modules' || name.startsWith('.') || name === 'dist') continue;
      const path = join(d, name);
      const s = statSync(path);
      if (s.isDirectory()) walk(path);
      else if (/\.(m?[jt]sx?|cjs|cts)$/.test(name) && s.size <= MAX_BYTES) out.push(path);
    }
  };
  walk(dir);
  return out;
}

const UNSAFE: readonly { id: string; pattern: RegExp; check: string; fix: string }[] = [
  {
    id: 'config.dangerouslyAllowAnyOrigin',
    pattern: /dangerouslyAllowAnyOrigin\s*:\s*true/,
    check: 'every origin allowed (dangerouslyAllowAnyOrigin)',
    fix: "list the origins of your pages in `origins`; any origin lets any web page use your visitors' credentials (cross-site WebSocket hijacking)",
  },
  {
    id: 'config.public-metrics',
    pattern: /metricsHandler\([^)]*public\s*:\s*true/,
    check: '/metrics served without a token (public: true)',
    fix: 'serve it with `{ token }`, or only on a listener nobody else can reach',
  },
  {
    id: 'config.penalties-off',
    pattern: /penalties\s*:\s*false/,
    check: 'penalties and automatic bans turned off',
    fix: 'keep the default penalties, or say in a comment why this server does without',
  },
];

/** Defences turned off in the project's own code, one finding per kind (the first place seen). */
function configFindings(dir: string): Finding[] {
  const findings: Finding[] = [];
  for (const file of sources(dir)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const u of UNSAFE) {
      const i = lines.findIndex((l) => u.pattern.test(l));
      if (i === -1 || findings.some((f) => f.id === u.id)) continue;
      findings.push({
        id: u.id,
        check: u.check,
        category: 'dependencies',
        verdict: 'warn',
        severity: 'medium',
        expected: 'the defence on',
        observed: "turned off in the project's code",
        evidence: `${relative(dir, file)}:${i + 1}`,
        fix: u.fix,
      });
    }
  }
  return findings;
}

/** The findings for the project in `dir`. */
export function scanProject(dir: string): Finding[] {
  const findings: Finding[] = [];
  const lock = LOCKS.find((l) => {
    try {
      return statSync(join(dir, l)).isFile();
    } catch {
      return false;
    }
  });
  const base = {
    category: 'dependencies' as const,
    expected: 'no dependency with a known advisory',
  };
  if (lock === undefined) {
    findings.push({
      ...base,
      id: 'dependencies',
      check: 'WebSocket dependencies with known advisories',
      verdict: 'warn',
      severity: 'low',
      observed: `no lock file in ${dir} (${LOCKS.join(', ')}): dependencies not checked`,
      fix: 'commit a lock file, and run the audit in the directory that holds it',
    });
    return findings;
  }
  let packages: Set<string>;
  try {
    packages = packagesOf(lock, readFileSync(join(dir, lock), 'utf8'));
  } catch (error) {
    findings.push({
      ...base,
      id: 'dependencies',
      check: 'WebSocket dependencies with known advisories',
      verdict: 'warn',
      severity: 'low',
      observed: `${lock} could not be read: ${(error as Error).message}`,
    });
    return findings;
  }
  for (const pkg of [...packages].sort()) {
    const at = pkg.lastIndexOf('@');
    const [name, version] = [pkg.slice(0, at), pkg.slice(at + 1)];
    for (const a of affected(name, version)) {
      findings.push({
        ...base,
        id: `dependency.${pkg}.${a.id}`,
        check: `${name} ${version} against ${a.id}`,
        verdict: 'fail',
        severity: a.severity,
        observed: `${lock} holds ${pkg}: ${a.summary}`,
        evidence: `${a.id}, fixed in ${a.fixed}`,
        fix: `upgrade ${name} to ${a.fixed} or later (npm update ${name}, or an override for a nested copy)`,
      });
    }
  }
  if (!findings.some((f) => f.verdict === 'fail')) {
    findings.push({
      ...base,
      id: 'dependencies',
      check: 'WebSocket dependencies with known advisories',
      verdict: 'pass',
      severity: 'info',
      observed: `${lock}: ${packages.size} watched package version(s), none affected`,
    });
  }
  findings.push(...configFindings(dir));
  return findings;
}
