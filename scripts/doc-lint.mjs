#!/usr/bin/env node
/**
 * "A doc comment on every export": run Deno's doc linter over every entry point and fail on
 * undocumented exports. References to peer dependencies' own types (crossws `Peer`, tRPC's
 * `AnyRouter`, …) are reported by the linter as private-type-ref; they are meant to be those
 * packages' types, not copies, so that finding is tolerated and counted.
 */
import { spawnSync } from 'node:child_process';
import { ENTRIES } from './entries.mjs';

const files = Object.values(ENTRIES);
const r = spawnSync('node_modules/.bin/deno', ['doc', '--lint', ...files], { encoding: 'utf8' });
const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
const findings = [...out.matchAll(/error\[([a-z-]+)\][^\n]*\n\s*-->\s*(\S+)/g)].map((m) => ({
  kind: m[1],
  at: m[2],
}));
const blocking = findings.filter((f) => f.kind !== 'private-type-ref');
const tolerated = findings.length - blocking.length;
if (blocking.length > 0) {
  console.error(
    `doc lint: ${blocking.length} finding(s):\n${blocking.map((f) => `  ${f.kind} ${f.at.replace(`${process.cwd()}/`, '')}`).join('\n')}`,
  );
  process.exit(1);
}
if (r.status !== 0 && findings.length === 0) {
  console.error(out);
  process.exit(1);
}
console.log(
  `doc lint: every export of ${files.length} entry points documented (${tolerated} references to peer dependencies' types)`,
);
