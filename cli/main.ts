#!/usr/bin/env node
/**
 * The `wsguard` command: `audit`, `health` and `init` (see `wsguard --help` and docs/cli.md).
 *
 * Exit codes: 0 ok, 1 insecure (findings at or above `--fail-on`) or unhealthy, 2 usage,
 * 3 unreachable (no TCP or HTTP answer within the bound), 4 incomplete (no probe could run).
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { type AuditArgs, Exit, type HealthArgs, type InitArgs, parseCli } from './args.ts';
import { audit } from './audit.ts';
import { health } from './health.ts';
import { init } from './init.ts';
import { frameworkDeps } from './init-frameworks.ts';
import { scanProject } from './project-scan.ts';
import { buildReport, reportOptions } from './report-json.ts';
import { renderMarkdown } from './report-md.ts';
import { findingLine, renderText } from './report-text.ts';
import { toolInfo } from './version.ts';

/** The PEM text of `--public-key`, or a usage message when it cannot be read as one. */
function readPublicKey(file: string): { pem: string } | { problem: string } {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    return { problem: `--public-key: cannot read ${file}: ${(e as Error).message}` };
  }
  if (!pem.includes('-----BEGIN')) return { problem: `--public-key: ${file} is not a PEM file` };
  // A private key handed by mistake must not be used as (or leak into) anything.
  if (/PRIVATE KEY-----/.test(pem))
    return { problem: `--public-key: ${file} holds a private key; give the public one` };
  return { pem };
}

async function runAudit(a: AuditArgs): Promise<number> {
  const progress = !a.quiet;
  const key = a.publicKey !== undefined ? readPublicKey(a.publicKey) : undefined;
  if (key && 'problem' in key) {
    process.stderr.write(`wsguard: ${key.problem}\n`);
    return Exit.usage;
  }
  if (progress) process.stderr.write(`wsguard audit ${a.url}\n`);
  const result = await audit({
    url: a.url,
    ...(a.origin !== undefined ? { origin: a.origin } : {}),
    ...(a.token !== undefined ? { token: a.token } : {}),
    ...(a.expiredToken !== undefined ? { expiredToken: a.expiredToken } : {}),
    ...(key ? { publicKeyPem: key.pem } : {}),
    ...(a.jwks !== undefined ? { jwksUrl: a.jwks } : {}),
    ...(a.ticketUrl !== undefined ? { ticketUrl: a.ticketUrl } : {}),
    ticketMaxAgeSec: a.ticketMaxAgeSec,
    waitMs: a.waitMs,
    authWaitMs: a.authWaitMs,
    connectTimeoutMs: a.connectTimeoutMs,
    ...(a.sources ? { sources: a.sources } : {}),
    // Progress goes to stderr, so stdout stays the report (clean JSON with --json).
    ...(progress && a.json
      ? { onFinding: (f) => process.stderr.write(`${findingLine(f)}\n`) }
      : {}),
    ...(progress && !a.json
      ? { onFinding: (f) => process.stdout.write(`${findingLine(f)}\n`) }
      : {}),
  });
  if (a.project !== undefined) {
    // What the project's own files say, after what the endpoint answered.
    for (const f of scanProject(a.project)) {
      result.findings.push(f);
      if (progress) (a.json ? process.stderr : process.stdout).write(`${findingLine(f)}\n`);
    }
  }
  const report = buildReport(toolInfo(), result, reportOptions(a), a.failOn);
  if (a.md !== undefined) writeFileSync(a.md, renderMarkdown(report));
  if (a.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (progress) {
    const text = renderText(report);
    process.stdout.write(
      `${report.summary.verdict === 'unreachable' ? text : text.slice(text.lastIndexOf('\n\n') + 2)}\n`,
    );
  } else process.stdout.write(`${renderText(report)}\n`);
  const v = report.summary.verdict;
  if (v === 'unreachable') return Exit.unreachable;
  if (v === 'insecure') return Exit.insecure;
  return v === 'incomplete' ? Exit.incomplete : Exit.ok;
}

async function runHealth(a: HealthArgs): Promise<number> {
  const r = await health({
    url: a.url,
    timeoutMs: a.connectTimeoutMs,
    ...(a.origin !== undefined ? { origin: a.origin } : {}),
    ...(a.token !== undefined ? { token: a.token } : {}),
  });
  if (a.json) process.stdout.write(`${JSON.stringify({ tool: toolInfo(), ...r }, null, 2)}\n`);
  else {
    const t = Object.entries(r.times)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `${r.status.toUpperCase()} ${r.target}${r.problem ? `: ${r.problem}` : ''}${t ? ` (${t})` : ''}\n`,
    );
  }
  return r.status === 'healthy'
    ? Exit.ok
    : r.status === 'unreachable'
      ? Exit.unreachable
      : Exit.insecure;
}

function runInit(a: InitArgs): number {
  const r = init(a.dir, a, a.force);
  for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
  for (const f of r.kept) process.stdout.write(`kept  ${f} (exists; --force overwrites it)\n`);
  const deps = [
    'wsguard',
    ...frameworkDeps(a),
    ...(a.trpc ? ['@trpc/server', '@trpc/client'] : []),
    ...(a.redis ? ['ioredis'] : []),
  ];
  process.stdout.write(
    `next: install ${deps.join(' ')}; set JWT_SECRET and APP_ORIGIN; run wsguard/server.ts\n`,
  );
  return Exit.ok;
}

/** Run the command line; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCli(argv);
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(`${parsed.text}\n`);
      return Exit.ok;
    case 'version':
      process.stdout.write(`${toolInfo().version}\n`);
      return Exit.ok;
    case 'usage-error':
      process.stderr.write(`wsguard: ${parsed.message}\n\n${parsed.text}\n`);
      return Exit.usage;
    case 'audit':
      return runAudit(parsed.args);
    case 'health':
      return runHealth(parsed.args);
    case 'init':
      return runInit(parsed.args);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`wsguard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
