#!/usr/bin/env node
/**
 * Every TypeScript block of README.md and docs/ is a real file: it follows a marker
 *
 *     <!-- snippet: examples/snippets/server.node.ts -->
 *     ```ts
 *     …the file, verbatim…
 *     ```
 *
 * and its text equals the file's. The files are type-checked with `--strict` against the packed
 * package and run by the install test (scripts/install-snippets.mjs), so the docs cannot show code
 * that does not compile or does not run. A ts block without a marker, a marker naming a missing
 * file, or a block that drifted from its file fails the check.
 *
 *   node scripts/snippets.mjs           check (CI)
 *   node scripts/snippets.mjs --write   copy every marked file into its block
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRITE = process.argv.includes('--write');
const MARKER = /^<!-- snippet: (\S+) -->$/;
const CODE_LANGS = new Set(['ts', 'tsx', 'js', 'mjs', 'typescript', 'javascript']);

function markdownFiles() {
  const out = [join(ROOT, 'README.md')];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) out.push(path);
    }
  };
  walk(join(ROOT, 'docs'));
  return out;
}

const problems = [];
let blocks = 0;
let rewritten = 0;
for (const file of markdownFiles()) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out = [];
  const where = (i) => `${relative(ROOT, file)}:${i + 1}`;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) {
      out.push(lines[i]);
      continue;
    }
    // The whole block, to its closing fence.
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(i + 1, end);
    const marker = MARKER.exec(lines[i - 1] ?? '');
    if (CODE_LANGS.has(fence[1])) {
      blocks++;
      if (!marker) {
        problems.push(`${where(i)}: a ${fence[1]} block without a snippet marker (make it a file)`);
      } else {
        const source = join(ROOT, marker[1]);
        if (!existsSync(source)) {
          problems.push(`${where(i - 1)}: ${marker[1]} does not exist`);
        } else {
          const text = readFileSync(source, 'utf8').replace(/\n$/, '');
          if (text !== body.join('\n')) {
            if (WRITE) {
              out.push(lines[i], ...text.split('\n'), lines[end] ?? '```');
              rewritten++;
              i = end;
              continue;
            }
            problems.push(
              `${where(i)}: differs from ${marker[1]} (node scripts/snippets.mjs --write)`,
            );
          }
        }
      }
    }
    out.push(...lines.slice(i, end + 1));
    i = end;
  }
  if (WRITE) writeFileSync(file, out.join('\n'));
}

if (problems.length > 0) {
  console.error(
    `snippets: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`,
  );
  process.exit(1);
}
console.log(
  WRITE
    ? `snippets: ${rewritten} block(s) rewritten from their files, ${blocks} in all`
    : `snippets: every one of ${blocks} code blocks is its file, verbatim`,
);
