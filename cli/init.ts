/**
 * `wsguard init`, which scaffolds a guarded server, its ticket route and a client into an
 * existing project. It never overwrites a file unless `--force`: it lists the ones it kept.
 *
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type InitChoice, templates } from './init-templates.ts';

/** What `init` did. */
export interface InitResult {
  /** Files written (relative paths). */
  readonly written: string[];
  /** Files that existed and were kept (no `--force`). */
  readonly kept: string[];
}

/** Write the scaffold for `choice` into `dir`. */
export function init(dir: string, choice: InitChoice, force: boolean): InitResult {
  const written: string[] = [];
  const kept: string[] = [];
  for (const t of templates(choice)) {
    const target = join(dir, t.path);
    if (existsSync(target) && !force) {
      kept.push(t.path);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, t.text);
    written.push(t.path);
  }
  return { written, kept };
}
