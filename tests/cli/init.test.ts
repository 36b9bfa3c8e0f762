import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

/** A tsconfig that resolves `wsguard/*` to this repo's sources (as examples/snippets does). */
function tsconfig(dir: string): void {
  const src = (f: string): string[] => [join(REPO, f)];
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: ['node'],
        baseUrl: '.',
        paths: {
          wsguard: src('src/mod.ts'),
          'wsguard/trpc': src('src/trpc.ts'),
          'wsguard/client': src('src/client.ts'),
          'wsguard/redis': src('src/redis.ts'),
          'wsguard/adapters/node': src('adapters/node.ts'),
        },
      },
      include: ['*/wsguard/*.ts'],
    }),
  );
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  // The project's own dependencies (@trpc/*, ioredis, @types/node): this repo's, as if installed.
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

function tsc(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, '-p', dir], { timeout: 50_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

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
