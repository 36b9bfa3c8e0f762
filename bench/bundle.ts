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
 * @module
 */
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

/** Bundle `entry` (a path under the repository) for Node; resolves to the bundle's path. */
export async function nodeBundle(entry: string): Promise<string> {
  if (process.env.BENCH_SERVER_JS) return resolve(process.env.BENCH_SERVER_JS);
  const outfile = join(
    root,
    'node_modules/.cache/wsguard-bench',
    basename(entry).replace(/\.ts$/, '.mjs'),
  );
  const { build } = await import('esbuild');
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(root, entry)],
    outfile,
  });
  return outfile;
}
