#!/usr/bin/env node
/**
 * The public API snapshot: every export of every entry point (scripts/entries.mjs) with its full
 * type signature, and every type of ours those signatures reach (exported or not), written to
 * api/wsguard.api.txt. CI runs it with `--check`: a change to anything a user can see (a renamed
 * export, a widened parameter, a new optional field, a moved type that changed on the way) fails
 * until the snapshot is rewritten on purpose (`npm run api:update`) and the diff is reviewed.
 *
 * Where a declaration lives is left out on purpose, so moving files changes nothing here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ENTRIES } from './entries.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, 'api/wsguard.api.txt');
const check = process.argv.includes('--check');

const config = ts.getParsedCommandLineOfConfigFile(
  resolve(root, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => console.error(d.messageText) },
);
const entryFiles = Object.values(ENTRIES).map((f) => resolve(root, f));
const program = ts.createProgram(entryFiles, config.options);
const checker = program.getTypeChecker();
const F =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType |
  ts.TypeFormatFlags.WriteArrowStyleSignature;

/** Our own source files: types declared there are expanded, others (lib, deps) named only. */
const ours = (decl) => {
  const file = decl.getSourceFile().fileName;
  return !file.includes('/node_modules/') && relative(root, file).split('/')[0] !== '..';
};
const str = (t) => checker.typeToString(t, undefined, F);
const sig = (s) => checker.signatureToString(s, undefined, F);

/** Named types of ours reached from the API, to print after the exports. */
const reached = new Map();
const printedNames = new Set();
const seenTypes = new Set();
function reach(type, depth = 0) {
  if (!type || seenTypes.has(type) || depth > 12) return;
  seenTypes.add(type);
  for (const s of [type.aliasSymbol, type.symbol]) {
    const decl = s?.declarations?.[0];
    if (
      decl &&
      ours(decl) &&
      (ts.isInterfaceDeclaration(decl) ||
        ts.isTypeAliasDeclaration(decl) ||
        ts.isClassDeclaration(decl) ||
        ts.isEnumDeclaration(decl))
    )
      reached.set(s.name + '@' + decl.pos + decl.getSourceFile().fileName, s);
  }
  for (const a of type.aliasTypeArguments ?? []) reach(a, depth + 1);
  if (type.isUnionOrIntersection()) for (const t of type.types) reach(t, depth + 1);
  if (type.flags & ts.TypeFlags.Object) {
    for (const a of checker.getTypeArguments?.(type) ?? []) reach(a, depth + 1);
    for (const p of checker.getPropertiesOfType(type)) {
      const d = p.valueDeclaration ?? p.declarations?.[0];
      if (d && ours(d)) reach(checker.getTypeOfSymbolAtLocation(p, d), depth + 1);
    }
    for (const kind of [ts.SignatureKind.Call, ts.SignatureKind.Construct])
      for (const s of checker.getSignaturesOfType(type, kind)) {
        for (const p of s.parameters)
          reach(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration), depth + 1);
        reach(s.getReturnType(), depth + 1);
      }
  }
}

function members(type, indent, onlyOurs = false) {
  const lines = [];
  for (const s of checker.getSignaturesOfType(type, ts.SignatureKind.Call))
    lines.push(`${indent}${sig(s)};`);
  for (const s of checker.getSignaturesOfType(type, ts.SignatureKind.Construct))
    lines.push(`${indent}new ${sig(s)};`);
  for (const info of checker.getIndexInfosOfType(type))
    lines.push(
      `${indent}${info.isReadonly ? 'readonly ' : ''}[key: ${str(info.keyType)}]: ${str(info.type)};`,
    );
  const props = [...checker.getPropertiesOfType(type)].sort((a, b) => a.name.localeCompare(b.name));
  for (const p of props) {
    const d = p.valueDeclaration ?? p.declarations?.[0];
    const mods = d ? ts.getCombinedModifierFlags(d) : 0;
    if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
    if (p.name.startsWith('#') || p.name.startsWith('__#')) continue;
    if (onlyOurs && !(d && ours(d))) continue;
    const t = d ? checker.getTypeOfSymbolAtLocation(p, d) : checker.getDeclaredTypeOfSymbol(p);
    reach(t);
    const ro = mods & ts.ModifierFlags.Readonly ? 'readonly ' : '';
    const opt = p.flags & ts.SymbolFlags.Optional ? '?' : '';
    lines.push(`${indent}${ro}${p.name}${opt}: ${str(t)};`);
  }
  return lines;
}

function typeParams(decl) {
  const tps = decl.typeParameters;
  if (!tps?.length) return '';
  return `<${tps
    .map((tp) => {
      const t = checker.getTypeAtLocation(tp);
      const c = checker.getBaseConstraintOfType(t);
      const d = tp.default ? ` = ${str(checker.getTypeAtLocation(tp.default))}` : '';
      return `${tp.name.text}${c && c !== t && !(c.flags & ts.TypeFlags.Unknown) ? ` extends ${str(c)}` : ''}${d}`;
    })
    .join(', ')}>`;
}

/** The lines that describe one symbol, named `name` in this listing. */
function describe(name, symbol) {
  const lines = [];
  for (const decl of symbol.declarations ?? []) {
    if (ts.isInterfaceDeclaration(decl)) {
      const t = checker.getDeclaredTypeOfSymbol(symbol);
      lines.push(`interface ${name}${typeParams(decl)} {`, ...members(t, '  '), '}');
      break;
    }
  }
  for (const decl of symbol.declarations ?? []) {
    if (ts.isTypeAliasDeclaration(decl)) {
      const t = checker.getDeclaredTypeOfSymbol(symbol);
      reach(t);
      const body = checker.typeToString(t, decl, F | ts.TypeFormatFlags.InTypeAlias);
      lines.push(`type ${name}${typeParams(decl)} = ${body};`);
      if (t.flags & ts.TypeFlags.Object && !checker.getSignaturesOfType(t, 0).length)
        lines.push('  // members', ...members(t, '  '));
    } else if (ts.isClassDeclaration(decl)) {
      const inst = checker.getDeclaredTypeOfSymbol(symbol);
      const ctor = checker.getTypeOfSymbolAtLocation(symbol, decl);
      const base = checker.getBaseTypes(inst).map(str);
      lines.push(
        `class ${name}${typeParams(decl)}${base.length ? ` extends ${base.join(', ')}` : ''} {`,
        ...checker
          .getSignaturesOfType(ctor, ts.SignatureKind.Construct)
          .map((s) => `  constructor${sig(s).replace(/ => .*$/, '')};`),
        ...members(ctor, '  static ', true).filter((l) => !l.includes(' prototype: ')),
        ...members(inst, '  '),
        '}',
      );
      for (const s of checker.getSignaturesOfType(ctor, ts.SignatureKind.Construct))
        for (const p of s.parameters)
          reach(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration));
    } else if (ts.isFunctionDeclaration(decl)) {
      const t = checker.getTypeOfSymbolAtLocation(symbol, decl);
      reach(t);
      if (decl === symbol.declarations.find(ts.isFunctionDeclaration))
        for (const s of checker.getSignaturesOfType(t, ts.SignatureKind.Call))
          lines.push(`function ${name}${sig(s).replace(/ => /, ': ')};`);
    } else if (ts.isVariableDeclaration(decl)) {
      const t = checker.getTypeOfSymbolAtLocation(symbol, decl);
      reach(t);
      lines.push(`const ${name}: ${str(t)};`);
    } else if (ts.isEnumDeclaration(decl)) {
      lines.push(
        `enum ${name} { ${decl.members.map((m) => `${m.name.getText()} = ${JSON.stringify(checker.getConstantValue(m))}`).join(', ')} }`,
      );
    } else if (ts.isModuleDeclaration(decl)) {
      lines.push(`namespace ${name}`);
    }
  }
  return lines;
}

const sections = [];
for (const [subpath, file] of Object.entries(ENTRIES)) {
  const sf = program.getSourceFile(resolve(root, file));
  const mod = checker.getSymbolAtLocation(sf);
  const exports = checker.getExportsOfModule(mod).sort((a, b) => a.name.localeCompare(b.name));
  const lines = [`# wsguard${subpath === '.' ? '' : subpath.slice(1)}`, ''];
  for (const e of exports) {
    const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
    printedNames.add(target);
    lines.push(...describe(e.name, target), '');
  }
  sections.push(lines.join('\n'));
}

// The types of ours the API reaches without exporting them: a change to one is a change to the API.
const internal = [];
const done = new Set();
for (let changed = true; changed; ) {
  changed = false;
  for (const [key, s] of [...reached].sort(([a], [b]) => a.localeCompare(b))) {
    if (done.has(key)) continue;
    done.add(key);
    changed = true;
    if (printedNames.has(s)) continue;
    internal.push({ name: s.name, lines: describe(s.name, s) });
  }
}
internal.sort(
  (a, b) => a.name.localeCompare(b.name) || a.lines.join().localeCompare(b.lines.join()),
);
sections.push(
  [
    '# types the API reaches without exporting them',
    '',
    ...internal.flatMap((i) => [...i.lines, '']),
  ].join('\n'),
);

const text = `${[
  '// The public API of wsguard, generated by scripts/api-snapshot.mjs: do not edit by hand.',
  '// CI fails when the sources disagree with it; `npm run api:update` rewrites it.',
  '',
  ...sections,
]
  .join('\n')
  .trimEnd()}\n`;

if (check) {
  let old = '';
  try {
    old = readFileSync(out, 'utf8');
  } catch {}
  if (old === text) {
    console.log(`api snapshot: unchanged (${text.split('\n').length} lines)`);
  } else {
    const a = old.split('\n');
    const b = text.split('\n');
    const gone = a.filter((l) => !b.includes(l));
    const added = b.filter((l) => !a.includes(l));
    console.error('api snapshot: the public API differs from api/wsguard.api.txt');
    for (const l of gone.slice(0, 40)) console.error(`- ${l}`);
    for (const l of added.slice(0, 40)) console.error(`+ ${l}`);
    console.error('If the change is meant, run `npm run api:update` and review the diff.');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log(`wrote ${relative(root, out)} (${text.split('\n').length} lines)`);
}
