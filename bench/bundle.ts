/**
 * Node bench servers run as an esbuild bundle of their entry (dependencies external), the way
 * users run the built package. Through tsx, wsguard's own sources would pay for tsx's `keepNames`
 * helper (a `__name()` call on every closure created) while crossws, `ws` and tRPC, prebuilt,
 * would not: a cost only the guarded side of a comparison would carry. Bun and Deno run the
 * TypeScript sources directly and add no such helper.
 *
 * `BENCH_SERVER_JS` names a bundle to run instead (e.g. one built from an older commit, for a
 * before/after comparison); it must be built from the same entry.
 *
 * Each checkout writes its bundles to a directory of its own (named by a hash of its real path):
 * a worktree whose `node_modules` is a symlink to another checkout's shares that checkout's
 * `node_modules/.cache`, and one shared path let two trees' runs overwrite, or run, each other's
 * server.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** esbuild's options for every bench server bundle (this tree's and a base tree's alike). */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  target: 'node20',
  logLevel: 'warning',
} as const;

/**
 * Where this checkout's bundle of `entry` goes: `node_modules/.cache/wsguard-bench/tree-<hash of
 * this checkout's real path>/`, apart from every other checkout's (see the module notes).
 */
function nodeBundlePath(entry: string): string {
  const key = createHash('sha256').update(realpathSync(root)).digest('hex').slice(0, 12);
  return join(
    root,
    'node_modules/.cache/wsguard-bench',
    `tree-${key}`,
    basename(entry).replace(/\.ts$/, '.mjs'),
  );
}

/** Bundle `entry` (a path under the repository) for Node; resolves to the bundle's path. */
export async function nodeBundle(entry: string): Promise<string> {
  if (process.env.BENCH_SERVER_JS) return resolve(process.env.BENCH_SERVER_JS);
  const outfile = nodeBundlePath(entry);
  const { build } = await import('esbuild');
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(root, entry)],
    outfile,
  });
  return outfile;
}
