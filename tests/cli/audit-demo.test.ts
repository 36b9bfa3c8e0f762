/**
 * `wsguard audit` against the demo (`npm start`), as a new user would run it, on Node, Bun and
 * Deno: a real demo process with its memory store, a login token, the real CLI. The audit must
 * give a true verdict on a guarded server: no high finding, the ban its own forged credentials earn
 * reported as a defence (not as failures of the probes after it), exit 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

type Runtime = 'node' | 'bun' | 'deno';
const COMMANDS: Record<Runtime, [string, string[]]> = {
  node: [process.execPath, ['--import', 'tsx', 'examples/demo/server.node.ts']],
  bun: ['node_modules/.bin/bun', ['examples/demo/server.bun.ts']],
  deno: ['node_modules/.bin/deno', ['run', '-A', 'examples/demo/server.deno.ts']],
};

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Start the demo on `runtime` (memory store), resolve once it prints its banner (≤ 30 s). */
async function startDemo(runtime: Runtime): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const [command, args] = COMMANDS[runtime];
  let output = '';
  const proc = spawn(command, args, {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d) => {
    output += d;
  });
  proc.stderr?.on('data', (d) => {
    output += d;
  });
  for (let i = 0; i < 300; i++) {
    if (output.includes(' on http')) return { url: `http://127.0.0.1:${port}`, proc };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`demo on ${runtime} did not start:\n${output}`);
}

interface Report {
  summary: { verdict: string };
  findings: { id: string; verdict: string; severity: string; observed: string }[];
}

describe('wsguard audit against the demo', () => {
  it.each(['node', 'bun', 'deno'] as const)(
    'on %s: no high finding, the ban reported as a defence, exit 0',
    async (runtime) => {
      const demo = await startDemo(runtime);
      try {
        const res = await fetch(`${demo.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: demo.url },
          body: JSON.stringify({ username: 'alice', password: 'alice' }),
        });
        const { token } = (await res.json()) as { token: string };
        const ws = `${demo.url.replace(/^http/, 'ws')}/ws`;
        const run = await runCli(
          ['audit', ws, '--origin', demo.url, '--token', token, '--json', '--quiet'],
          120_000,
        );
        const report = JSON.parse(run.stdout) as Report;
        const failures = report.findings.filter(
          (f) => f.verdict === 'fail' && f.severity === 'high',
        );
        expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
        const ban = report.findings.find((f) => f.id === 'defence.ban');
        expect(ban?.verdict, JSON.stringify(ban)).toBe('pass');
        expect(ban?.observed).toMatch(/banned after \d+ probes/);
        expect(report.summary.verdict).toBe('secure');
        expect(run.code).toBe(0);
      } finally {
        demo.proc.kill('SIGKILL');
      }
    },
    150_000,
  );
});
