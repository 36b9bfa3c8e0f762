import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';
import { tsc, tsconfig } from './scaffold-tsc.ts';

describe('wsguard init', () => {
  it('Node scaffolds (plain JSON; --trpc --redis) pass tsc --strict against the sources', async () => {
    // One tsc run for both (checking the sources dominates the time).
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-'));
    const plain = await runCli(['init', '--dir', join(dir, 'plain')]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('wrote wsguard/server.ts');
    expect(readFileSync(join(dir, 'plain/wsguard/server.ts'), 'utf8')).toContain('tickets: true');
    expect((await runCli(['init', '--dir', join(dir, 'trpc'), '--trpc', '--redis'])).code).toBe(0);
    expect(readFileSync(join(dir, 'trpc/wsguard/router.ts'), 'utf8')).toContain('initTRPC');
    tsconfig(dir);
    const checked = await tsc(dir);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);
  }, 60_000);

  it('keeps existing files unless --force, and lists them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsguard-init-'));
    await runCli(['init', '--dir', dir]);
    writeFileSync(join(dir, 'wsguard/server.ts'), '// mine\n');
    const again = await runCli(['init', '--dir', dir, '--runtime', 'bun']);
    expect(again.stdout).toContain('kept  wsguard/server.ts');
    expect(readFileSync(join(dir, 'wsguard/server.ts'), 'utf8')).toBe('// mine\n');
    const forced = await runCli(['init', '--dir', dir, '--runtime=bun', '--force']);
    expect(forced.stdout).toContain('wrote wsguard/server.ts');
    expect(readFileSync(join(dir, 'wsguard/server.ts'), 'utf8')).toContain(
      "from 'wsguard/adapters/bun'",
    );
    expect((await runCli(['init', '--runtime', 'python'])).code).toBe(2);
  }, 60_000);
});
