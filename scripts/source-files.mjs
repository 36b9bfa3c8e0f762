/**
 * The library's own TypeScript sources (`src/`, `adapters/`, `cli/`), as repository-relative
 * paths: what the layering, size and module-table checks read.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every `.ts` file below `src/`, `adapters/` and `cli/`. */
export function sourceFiles() {
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  for (const d of ['src', 'adapters', 'cli']) walk(d);
  return files;
}
