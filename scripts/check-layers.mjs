#!/usr/bin/env node
/**
 * The layering rule, enforced: a module may import its own folder and the layers below it, never
 * a layer above. Biome's `noImportCycles` catches cycles; this catches the wrong direction, which
 * is how cycles start. The layers, lowest first (docs/architecture.md draws them):
 *
 *   core ← observability, store ← feed, auth, state ← handshake, frames ← guard ← transport
 *        ← trpc, adapters
 *
 * `client/` is the browser helper: it may import `core/` and itself only, so the browser bundle
 * never pulls a server module in. The entry points (`src/*.ts`) re-export and may import anything.
 * Type-only imports count: a type from a higher layer is still a dependency on it.
 *
 * Exceptions are listed below, each with its reason; anything else fails CI.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { root, sourceFiles } from './source-files.mjs';

/** Layer of each folder; a higher number may import a lower one. */
const LAYERS = {
  'src/core': 0,
  'src/observability': 1,
  'src/store': 1,
  'src/feed': 2,
  'src/auth': 2,
  'src/state': 2,
  'src/handshake': 3,
  'src/frames': 3,
  'src/guard': 4,
  'src/transport': 5,
  'src/trpc': 6,
  adapters: 6,
  cli: 7,
};

/** Folders that may import only the listed ones (and themselves). */
const ONLY = {
  'src/client': ['src/core'],
  cli: [],
};

/** `from → to` edges allowed against the layers, with the reason. */
const EXCEPTIONS = {
  'src/guard/create-guard.ts → src/transport/hooks.ts':
    'the composition root wires `guard.hooks()`, a public method, to the crossws hooks; hooks.ts ' +
    'depends only on the narrow pipeline interface (transport/pipeline.ts) and guard/types.ts, ' +
    'never on the root, so there is no cycle',
};

const files = sourceFiles();

const folderOf = (file) => {
  const dir = dirname(file);
  return dir === 'src'
    ? 'src'
    : dir.startsWith('src/')
      ? dir.split('/').slice(0, 2).join('/')
      : dir;
};

const specifiers = (text) => {
  const out = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) out.push(m[1] ?? m[2]);
  return out.filter((s) => s.startsWith('.'));
};

const problems = [];
const unknownFolders = new Set();
const usedExceptions = new Set();
for (const file of files) {
  const from = folderOf(file);
  if (from === 'src') continue; // entry points
  if (!(from in LAYERS) && !(from in ONLY)) unknownFolders.add(from);
  for (const spec of specifiers(readFileSync(join(root, file), 'utf8'))) {
    const target = relative(root, resolve(root, dirname(file), spec));
    const to = folderOf(target);
    if (to === from) continue;
    const edge = `${file} → ${target}`;
    if (EXCEPTIONS[edge]) {
      usedExceptions.add(edge);
      continue;
    }
    if (from in ONLY) {
      if (!ONLY[from].includes(to))
        problems.push(`${edge}: ${from}/ may import only ${ONLY[from].join(', ') || 'itself'}`);
      continue;
    }
    if (to === 'src') {
      problems.push(`${edge}: only users import the entry points`);
      continue;
    }
    if (to in ONLY) {
      problems.push(`${edge}: ${to}/ is not a dependency of the server`);
      continue;
    }
    if (!(to in LAYERS)) continue; // reported as an unknown folder
    if (LAYERS[to] > LAYERS[from])
      problems.push(`${edge}: ${from} (layer ${LAYERS[from]}) imports ${to} (layer ${LAYERS[to]})`);
  }
}
for (const f of unknownFolders)
  problems.push(`${f}: a folder with no layer; add it to scripts/check-layers.mjs`);
for (const e of Object.keys(EXCEPTIONS))
  if (!usedExceptions.has(e)) problems.push(`exception no longer needed, remove it: ${e}`);

if (problems.length) {
  console.error(`layering: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `layering: ${files.length} files, every import points down (${usedExceptions.size} listed exception)`,
);
