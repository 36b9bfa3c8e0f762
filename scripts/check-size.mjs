#!/usr/bin/env node
/**
 * Small enough to review whole: a function over 80 lines or a file over 400 lines (in `src/`,
 * `adapters/`, `cli/`) fails CI unless it says why. The reason is a comment that starts with
 * `size-exception:` — in the comments just above the function (or the statement that declares it),
 * or, for a file, anywhere in its first 40 lines. `--list` prints every function and file over
 * half the bound, largest first, to find the next thing to split.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { root, sourceFiles } from './source-files.mjs';

const MAX_FUNCTION = 80;
const MAX_FILE = 400;
const MARK = 'size-exception:';
const list = process.argv.includes('--list');

const files = sourceFiles();

const problems = [];
const big = [];
const excused = [];
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = sf.getLineAndCharacterOfPosition(text.length).line + 1;
  const head = text.split('\n').slice(0, 40).join('\n');
  if (lines > MAX_FILE / 2) big.push({ lines, what: `${file} (file)` });
  if (lines > MAX_FILE) {
    if (head.includes(MARK)) excused.push(`${file}: ${lines} lines`);
    else
      problems.push(`${file}: ${lines} lines (bound ${MAX_FILE}); split it or say why (${MARK})`);
  }
  const line = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const leading = (node) => {
    // The comments above the function, or above the statement that declares it.
    let n = node;
    const found = [];
    for (let i = 0; i < 4 && n && n !== sf; i++, n = n.parent) {
      for (const r of ts.getLeadingCommentRanges(text, n.getFullStart()) ?? [])
        found.push(text.slice(r.pos, r.end));
      if (ts.isStatement(n) || ts.isClassElement(n) || ts.isPropertyAssignment(n)) break;
    }
    return found.join('\n');
  };
  const name = (node) => {
    if (node.name) return node.name.getText();
    const p = node.parent;
    if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) && p.name)
      return p.name.getText();
    return `<anonymous at ${line(node.getStart())}>`;
  };
  const visit = (node) => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessor(node) ||
      ts.isSetAccessor(node)
    ) {
      if (node.body) {
        const n = line(node.end) - line(node.getStart()) + 1;
        const where = `${file}:${line(node.getStart())} ${name(node)}`;
        if (n > MAX_FUNCTION / 2) big.push({ lines: n, what: where });
        if (n > MAX_FUNCTION) {
          if (leading(node).includes(MARK)) excused.push(`${where}: ${n} lines`);
          else
            problems.push(
              `${where}: ${n} lines (bound ${MAX_FUNCTION}); split it or say why (${MARK})`,
            );
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

if (list)
  for (const b of big.sort((a, b) => b.lines - a.lines)) console.log(`${b.lines}\t${b.what}`);
if (problems.length) {
  console.error(`size: ${problems.length} over the bound without a reason`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `size: ${files.length} files; functions ≤ ${MAX_FUNCTION} lines and files ≤ ${MAX_FILE}, but ${excused.length} with a reason`,
);
for (const e of excused) console.log(`  excused: ${e}`);
