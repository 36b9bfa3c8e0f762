/**
 * The "before" side of a before/after run on real sockets: `WSGUARD_BASE` names a checkout of the
 * commit to compare against (its `node_modules` may be a symlink to this checkout's), and the
 * socket benches start that tree's own server entry next to this tree's.
 *
 * On Node a server runs as an esbuild bundle (see `bench/bundle.ts`). The base tree's bundle is
 * built here from the base tree's sources, with the same options, into a cache directory of its
 * own: the base's `node_modules/.cache` is this checkout's when `node_modules` is a symlink, so
 * bundling the way `bench/bundle.ts` does would overwrite (or run) this tree's bundle. The
 * bundle's inputs are checked to lie inside the base tree, so a "before" row never runs code of
 * this checkout.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_OPTIONS } from './bundle.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The base tree from `WSGUARD_BASE` (its real path), or `undefined` when unset; exits with a
 * message if it does not hold every entry in `entries` (paths under the repository).
 */
export function baseTree(entries: readonly string[]): string | undefined {
  const raw = process.env['WSGUARD_BASE'];
  if (!raw) return undefined;
  const missing = entries.filter((e) => !existsSync(join(raw, e)));
  if (missing.length > 0) {
    console.error(`WSGUARD_BASE=${raw}: no ${missing.join(', ')} there`);
    process.exit(2);
  }
  const tree = realpathSync(raw);
  if (tree === realpathSync(root)) {
    console.error('WSGUARD_BASE is this checkout: name a checkout of the commit to compare with');
    process.exit(2);
  }
  return tree;
}

/**
 * Bundle `entry` (a path under `tree`) from `tree`'s sources, for Node, with `bench/bundle.ts`'s
 * options; resolves to the bundle's path, cached per tree under this
 * checkout's `node_modules/.cache/wsguard-bench/base-<hash of the tree's path>/`.
 */
export async function baseBundle(tree: string, entry: string): Promise<string> {
  const key = createHash('sha256').update(tree).digest('hex').slice(0, 12);
  const outfile = join(
    root,
    'node_modules/.cache/wsguard-bench',
    `base-${key}`,
    basename(entry).replace(/\.ts$/, '.mjs'),
  );
  const { build } = await import('esbuild');
  const result = await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: tree,
    entryPoints: [join(tree, entry)],
    outfile,
    metafile: true,
  });
  // Inputs are named relative to `absWorkingDir`: one outside the tree is another tree's code.
  const outside = Object.keys(result.metafile.inputs).filter(
    (input) => input.startsWith('..') || isAbsolute(input),
  );
  if (outside.length > 0)
    throw new Error(`${entry} of ${tree} bundles files from elsewhere: ${outside.join(', ')}`);
  return outfile;
}
