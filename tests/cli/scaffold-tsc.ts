/**
 * Type-check scaffolds `wsguard init` wrote: a tsconfig that resolves `wsguard/*` to this repo's
 * sources (as examples/snippets does) and this repo's node_modules as the project's own, then
 * `tsc --strict` over every `<dir>/*\/wsguard/*.ts`.
 */
import { execFile } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

/** Every subpath a scaffold may import, mapped to its source file. */
const SUBPATHS: Record<string, string> = {
  wsguard: 'src/mod.ts',
  'wsguard/trpc': 'src/trpc.ts',
  'wsguard/client': 'src/client.ts',
  'wsguard/redis': 'src/redis.ts',
  'wsguard/adapters/node': 'adapters/node.ts',
  'wsguard/hono': 'adapters/hono.ts',
  'wsguard/express': 'adapters/express.ts',
  'wsguard/fastify': 'adapters/fastify.ts',
  'wsguard/h3': 'adapters/h3.ts',
  'wsguard/ws': 'adapters/ws.ts',
};

/** Write the tsconfig, a `package.json` and the node_modules link into `dir`. */
export function tsconfig(dir: string): void {
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
        paths: Object.fromEntries(Object.entries(SUBPATHS).map(([k, f]) => [k, [join(REPO, f)]])),
      },
      include: ['*/wsguard/*.ts'],
    }),
  );
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  // The project's own dependencies (@trpc/*, ioredis, hono, express…): this repo's, as if installed.
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** Run `tsc -p dir`; its exit code and output. */
export function tsc(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, '-p', dir], { timeout: 90_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}
