import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuardedEcho, sign, startGuarded } from './guarded-server.ts';
import { runCli } from './run-cli.ts';
import { check } from './schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../cli/report.schema.json', import.meta.url), 'utf8'),
);

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let silent: Server;
const held: Socket[] = [];
let silentUrl: string;
let guarded: GuardedEcho;
beforeAll(async () => {
  // Accepts TCP, never answers a byte.
  silent = createServer((socket) => {
    held.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/ws`;
  guarded = await startGuarded();
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
  await guarded.close();
});

describe('unreachable targets', () => {
  it('audit: a dead port exits 3 at once, with a JSON report saying why', async () => {
    const run = await runCli([
      'audit',
      `ws://127.0.0.1:${await deadPort()}/ws`,
      '--json',
      '--quiet',
    ]);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(check(schema, report)).toEqual([]);
    expect(report.summary.verdict).toBe('unreachable');
    expect(report.summary.unreachable).toContain('ECONNREFUSED');
    expect(report.findings).toEqual([]);
    expect(run.ms).toBeLessThan(10_000);
  }, 30_000);

  it('audit: TCP accepted but no HTTP answer exits 3 within --connect-timeout', async () => {
    const run = await runCli(['audit', silentUrl, '--connect-timeout', '1000', '--quiet']);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^UNREACHABLE .*no answer within 1000 ms/);
    expect(run.ms).toBeLessThan(10_000);
  }, 30_000);

  it('health: a dead port exits 3, a silent server exits 3, both bounded', async () => {
    const dead = await runCli(['health', `ws://127.0.0.1:${await deadPort()}/ws`, '--json']);
    expect(dead.code).toBe(3);
    expect(JSON.parse(dead.stdout)).toMatchObject({ status: 'unreachable' });
    const mute = await runCli(['health', silentUrl, '--connect-timeout', '800']);
    expect(mute.code).toBe(3);
    expect(mute.ms).toBeLessThan(10_000);
  }, 30_000);
});

describe('wsguard health', () => {
  it('a guarded server with a valid token is healthy: times for each step, exit 0', async () => {
    const run = await runCli([
      'health',
      guarded.url,
      '--origin',
      guarded.origin,
      '--token',
      await sign('ops'),
      '--json',
    ]);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.status).toBe('healthy');
    for (const k of ['connectMs', 'roundTripMs', 'closeMs', 'reconnectMs'])
      expect(r.times[k]).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it('without a valid token it is unhealthy (refused by the server): exit 1', async () => {
    const run = await runCli([
      'health',
      guarded.url,
      '--origin',
      guarded.origin,
      '--token',
      'garbage',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^UNHEALTHY .*closed 4001/);
  }, 30_000);

  it('--help and --version exit 0; a bad option exits 2 naming it', async () => {
    expect((await runCli(['health', '--help'])).code).toBe(0);
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const bad = await runCli(['health', guarded.url, '--connect-timeout', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--connect-timeout');
    expect((await runCli([])).code).toBe(2);
  }, 30_000);
});
