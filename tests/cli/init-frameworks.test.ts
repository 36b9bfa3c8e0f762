import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';
import { tsc, tsconfig } from './scaffold-tsc.ts';

/** Scaffolds on Node, each into its own folder of one project (one tsc run checks them all). */
const NODE_SCAFFOLDS: Record<string, string[]> = {
  hono: ['--framework', 'hono'],
  express: ['--framework', 'express'],
  fastify: ['--framework=fastify'],
  h3: ['--framework', 'h3'],
  ws: ['--framework', 'ws'],
  'express-trpc-redis': ['--framework', 'express', '--trpc', '--redis'],
  'hono-trpc': ['--framework', 'hono', '--trpc'],
};

describe('wsguard init --framework', () => {
  it('Node framework scaffolds use their wsguard/<framework> integration and pass tsc --strict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-fw-'));
    for (const [name, args] of Object.entries(NODE_SCAFFOLDS)) {
      const run = await runCli(['init', '--dir', join(dir, name), ...args]);
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      expect(run.stdout).toContain('wrote wsguard/server.ts');
    }
    const server = (name: string): string =>
      readFileSync(join(dir, name, 'wsguard/server.ts'), 'utf8');
    expect(server('hono')).toContain("from 'wsguard/hono'");
    expect(server('hono')).toContain('ws.attach(server)');
    expect(server('express')).toContain("from 'wsguard/express'");
    expect(server('fastify')).toContain('app.register(wsguardFastify');
    expect(server('h3')).toContain('plugins: [ws.plugin]');
    expect(server('ws')).toContain('guardWebSocketServer(wss');
    expect(server('express-trpc-redis')).toContain('createRedisStore');
    expect(server('express-trpc-redis')).toContain('trpcHooks(createTRPCBridge');
    for (const name of Object.keys(NODE_SCAFFOLDS)) expect(server(name)).toContain('/ws/ticket');
    tsconfig(dir);
    const checked = await tsc(dir);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);
  }, 120_000);

  it('a type error in a scaffold fails the check (so the check above can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-fw-'));
    expect((await runCli(['init', '--dir', join(dir, 'bad'), '--framework', 'express'])).code).toBe(
      0,
    );
    const file = join(dir, 'bad/wsguard/server.ts');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('ws.attach(server)', 'ws.attach(server, 1)'),
    );
    tsconfig(dir);
    const checked = await tsc(dir);
    expect(checked.code).not.toBe(0);
    expect(checked.out).toContain('server.ts');
  }, 120_000);

  it('picks the runtime a framework needs, refuses impossible combinations with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-fw-'));
    const elysia = await runCli(['init', '--dir', join(dir, 'elysia'), '--framework', 'elysia']);
    expect(elysia.code).toBe(0);
    const text = readFileSync(join(dir, 'elysia/wsguard/server.ts'), 'utf8');
    expect(text).toContain('(elysia on bun)');
    expect(text).toContain("from 'wsguard/elysia'");
    expect(text).toContain('Bun.env.JWT_SECRET');
    const denoHono = await runCli([
      'init',
      '--dir',
      join(dir, 'deno'),
      '--framework',
      'hono',
      '--runtime',
      'deno',
    ]);
    expect(denoHono.code).toBe(0);
    expect(readFileSync(join(dir, 'deno/wsguard/server.ts'), 'utf8')).toContain(
      "from 'wsguard/adapters/deno'",
    );
    for (const bad of [
      ['--framework', 'elysia', '--runtime', 'node'],
      ['--framework', 'express', '--runtime', 'bun'],
      ['--framework', 'fastify', '--runtime', 'deno'],
      ['--framework', 'ws', '--trpc'],
      ['--framework', 'koa'],
    ]) {
      const run = await runCli(['init', '--dir', join(dir, 'refused'), ...bad]);
      expect(run.code, bad.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/--framework/);
    }
    // Nothing was written for a refused combination.
    expect(() => readFileSync(join(dir, 'refused/wsguard/server.ts'))).toThrow();
  }, 60_000);

  it('keeps an existing server.ts unless --force, and lists it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-fw-'));
    await runCli(['init', '--dir', dir]);
    writeFileSync(join(dir, 'wsguard/server.ts'), '// mine\n');
    const again = await runCli(['init', '--dir', dir, '--framework', 'hono']);
    expect(again.stdout).toContain('kept  wsguard/server.ts');
    expect(readFileSync(join(dir, 'wsguard/server.ts'), 'utf8')).toBe('// mine\n');
    const forced = await runCli(['init', '--dir', dir, '--framework', 'hono', '--force']);
    expect(forced.stdout).toContain('wrote wsguard/server.ts');
    expect(readFileSync(join(dir, 'wsguard/server.ts'), 'utf8')).toContain("from 'wsguard/hono'");
  }, 60_000);
});
