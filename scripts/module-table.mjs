#!/usr/bin/env node
/**
 * The module table of docs/architecture.md, generated from the sources: one row per file of
 * `src/`, `adapters/` and `cli/`, grouped by folder in layer order, each with the first sentence
 * of its module doc comment. It lives between `<!-- modules:start -->` and `<!-- modules:end -->`.
 * `--check` (CI) fails when the page lists a file that is gone or misses one that exists, or a
 * description changed; without it the table is rewritten.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const page = join(root, 'docs/architecture.md');
const check = process.argv.includes('--check');

/** Folders in layer order (scripts/check-layers.mjs), each with what it is for. */
const FOLDERS = [
  ['src', 'the entry points: re-exports only'],
  ['src/core', 'runtime-free basics every layer may use'],
  ['src/observability', 'audit events, redaction, stats, error reporting'],
  ['src/store', 'the atomic store contract and its implementations'],
  ['src/feed', 'the Redis Streams feed (not a store)'],
  ['src/auth', 'who a credential says the client is'],
  ['src/state', "a guard's shared state: connections, caps, bans, penalties, deadlines"],
  ['src/handshake', 'the upgrade decision'],
  ['src/frames', 'the message decision'],
  ['src/guard', 'the composition root, options and the admin calls'],
  ['src/transport', 'crossws hooks, HTTP handlers, serving'],
  ['src/trpc', 'tRPC v11 over the guarded socket'],
  ['src/client', 'the browser client helper'],
  ['adapters', 'Node, Bun and Deno: the only place runtime APIs appear'],
  ['cli', 'the `wsguard` command'],
];

const summary = (text) => {
  const m = /^\/\*\*([\s\S]*?)\*\//.exec(text.replace(/^#!.*\n/, '').trimStart());
  if (!m) return undefined;
  const body = m[1]
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, ''))
    .filter((l) => !l.startsWith('@'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  // The first sentence: up to a full stop followed by a space and a capital, or the end.
  const end = body.search(/(?<!\be\.g|\bi\.e)[.:](\s|$)|\s-\s/);
  return (end >= 0 ? body.slice(0, end) : body)
    .replace(/\{@link ([^}]+)\}/g, '`$1`')
    .replace(/\|/g, '\\|')
    .trim();
};

const rows = [];
const missing = [];
for (const e of readdirSync(join(root, 'src'), { withFileTypes: true }))
  if (e.isDirectory() && !FOLDERS.some(([f]) => f === `src/${e.name}`))
    missing.push(`src/${e.name}/ (a folder with no row: add it to scripts/module-table.mjs)`);
for (const [folder, what] of FOLDERS) {
  const files = readdirSync(join(root, folder), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => e.name)
    .sort();
  rows.push(`| **\`${folder}/\`** | ${what} |`);
  for (const f of files) {
    const s = summary(readFileSync(join(root, folder, f), 'utf8'));
    if (!s) missing.push(`${folder}/${f}`);
    rows.push(`| \`${folder}/${f}\` | ${s ?? ''} |`);
  }
}
const table = ['| file | concept |', '| --- | --- |', ...rows].join('\n');

const text = readFileSync(page, 'utf8');
const start = '<!-- modules:start -->';
const end = '<!-- modules:end -->';
const a = text.indexOf(start);
const b = text.indexOf(end);
if (a < 0 || b < a) {
  console.error(`docs/architecture.md: no ${start} … ${end} block`);
  process.exit(1);
}
const next = `${text.slice(0, a + start.length)}\n${table}\n${text.slice(b)}`;
if (missing.length) {
  console.error(`modules without a module doc comment: ${missing.join(', ')}`);
  process.exit(1);
}
if (check) {
  if (next !== text) {
    console.error(
      'docs/architecture.md: the module table is out of date; run `node scripts/module-table.mjs`',
    );
    process.exit(1);
  }
  console.log(`module table: ${rows.length - FOLDERS.length} files, up to date`);
} else {
  writeFileSync(page, next);
  console.log(`wrote the module table (${rows.length - FOLDERS.length} files)`);
}
