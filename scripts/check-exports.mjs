#!/usr/bin/env node
/**
 * Keep package.json `exports`/`bin`, jsr.json `exports` and deno.json `exports` equal to
 * scripts/entries.mjs, both ways: an entry missing anywhere, or an export no entry explains,
 * fails CI. `--write` rewrites the three files from the list instead.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BIN, distName, ENTRIES } from './entries.mjs';

const write = process.argv.includes('--write');
const read = (f) => JSON.parse(readFileSync(f, 'utf8'));
const npmExports = {};
for (const subpath of Object.keys(ENTRIES)) {
  const name = distName(subpath);
  npmExports[subpath] = { types: `./dist/${name}.d.mts`, default: `./dist/${name}.mjs` };
}
npmExports['./package.json'] = './package.json';
const npmBin = Object.fromEntries(Object.keys(BIN).map((name) => [name, `./dist/bin/${name}.mjs`]));
const sourceExports = Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, `./${v}`]));

const problems = [];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function check(file, field, expected) {
  const json = read(file);
  if (same(json[field], expected)) return;
  if (write) {
    json[field] = expected;
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`wrote ${file} ${field}`);
    return;
  }
  const actual = json[field] ?? {};
  for (const k of Object.keys(expected))
    if (!same(actual[k], expected[k]))
      problems.push(
        `${file} ${field}["${k}"] should be ${JSON.stringify(expected[k])}, is ${JSON.stringify(actual[k])}`,
      );
  for (const k of Object.keys(actual))
    if (!(k in expected)) problems.push(`${file} ${field}["${k}"] is not in scripts/entries.mjs`);
}
check('package.json', 'exports', npmExports);
check('package.json', 'bin', npmBin);
check('jsr.json', 'exports', sourceExports);
check('deno.json', 'exports', sourceExports);
const pkg = read('package.json');
for (const f of ['jsr.json', 'deno.json']) {
  const v = read(f).version;
  if (v !== pkg.version)
    problems.push(`${f} version ${v} differs from package.json ${pkg.version}`);
}
if (problems.length > 0) {
  console.error(
    `exports out of sync (run: node scripts/check-exports.mjs --write):\n  ${problems.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(
  `exports in sync: ${Object.keys(ENTRIES).join(', ')} + bin ${Object.keys(BIN).join(', ')}`,
);
