/**
 * The walk that refuses every option key a key table (`option-keys.ts`) does not name: a typo in
 * a security option (`maxMessageSize` for `messages.maxBytes`) is otherwise a defence that is
 * silently missing.
 *
 * @module
 */
import { type KeyRule, type KeyTable, MAX_TABLE_DEPTH } from './option-keys.ts';
import { type Candidate, candidates, nearest } from './option-suggestion.ts';

/** Unknown keys reported per object before the rest are counted in one line. */
const MAX_REPORTED_PER_OBJECT = 10;
/** Keys shown in a message are cut here, so that one problem stays one readable line. */
const MAX_SHOWN_LENGTH = 64;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const isEnumerable = Object.prototype.propertyIsEnumerable;

/** Cut and escaped: a key with a line break must not break the one-line-per-problem message. */
function shown(text: string): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > MAX_SHOWN_LENGTH ? `${escaped.slice(0, MAX_SHOWN_LENGTH)}…` : escaped;
}

/** `a.b`, `a["odd key"]`, `a[Symbol(x)]`. */
function join(path: string, key: string | symbol): string {
  if (typeof key === 'symbol') return `${path}[Symbol(${shown(key.description ?? '')})]`;
  if (IDENTIFIER.test(key)) return path === '' ? shown(key) : `${path}.${shown(key)}`;
  return `${path}["${shown(key)}"]`;
}

function oneLine(error: unknown): string {
  return shown(String(error));
}

/**
 * The keys checked: what a spread copies (own enumerable, symbols too) and what a property read
 * still finds (inherited enumerable, e.g. options built with `Object.create(base)`).
 */
function keysOf(value: object): (string | symbol)[] {
  const keys: (string | symbol)[] = [];
  for (const key in value) {
    // Reported once, at the top (see `polluted`), not again under every nested object.
    if (!Object.hasOwn(value, key) && Object.hasOwn(Object.prototype, key)) continue;
    keys.push(key);
  }
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (isEnumerable.call(value, symbol)) keys.push(symbol);
  }
  return keys;
}

/**
 * Enumerable keys on `Object.prototype` itself: prototype pollution. Every options object inherits
 * them, and a polluted name that is an option (`allowAnonymous`) would be read as if it were set.
 */
function polluted(): string[] {
  const keys: string[] = [];
  for (const key in Object.prototype) keys.push(key);
  return keys;
}

/**
 * Every key of `value`, and of the options objects nested in it, that `table` does not name: one
 * problem per key, with its full path and the nearest valid name when one is close, e.g.
 * `messages.maxMessageSize: unknown option; did you mean "messages.maxBytes"?`.
 *
 * `path` prefixes every path (`''` for createGuard's options, or the options' own name);
 * `aliases` maps other libraries' names to dotted paths of `table`. Values under a `'data'` rule
 * are never walked. Table lookups are own-property only, so `constructor`, `toString` or an own
 * `__proto__` (as `JSON.parse` makes) are unknown like any other name. Nothing is written.
 */
export function unknownKeys(
  value: unknown,
  table: KeyTable,
  path = '',
  aliases: Readonly<Record<string, string>> = {},
): string[] {
  const problems: string[] = [];
  let all: Candidate[] | undefined;
  const name = (at: readonly string[]): string => at.reduce<string>(join, path);

  const unknown = (key: string | symbol, at: readonly string[], rule: KeyRule): string => {
    const full = join(name(at), key);
    if (rule === 'value') {
      // No suggestion: the key is not misspelled, the value has the wrong shape.
      return `${full}: unknown option; ${name(at)} takes a value, not nested options`;
    }
    const text = typeof key === 'symbol' ? key.description : key;
    all ??= candidates(table, aliases);
    const near = text === undefined ? undefined : nearest(text, at, all);
    const hint = near === undefined ? '' : `; did you mean "${name(near)}"?`;
    if (typeof key === 'symbol')
      return `${full}: unknown option; a symbol key is never an option${hint}`;
    if (hint !== '') return `${full}: unknown option${hint}`;
    const where = at.length === 0 && path === '' ? 'top-level options' : `options of ${name(at)}`;
    return `${full}: unknown option; the ${where} are ${Object.keys(rule).join(', ')}`;
  };

  const walk = (v: unknown, rule: KeyRule, at: readonly string[]): void => {
    if (rule === 'data' || v === null || typeof v !== 'object' || at.length > MAX_TABLE_DEPTH)
      return;
    if (Array.isArray(v)) {
      // An array under a table would silently stand for "no options set".
      if (rule !== 'value')
        problems.push(`${name(at) || 'options'}: expected an options object, not an array`);
      return;
    }
    let keys: (string | symbol)[];
    try {
      keys = keysOf(v);
    } catch (error) {
      problems.push(`${name(at) || 'options'}: its keys cannot be listed (${oneLine(error)})`);
      return;
    }
    let count = 0;
    for (const key of keys) {
      const inner =
        typeof key === 'string' && rule !== 'value' && Object.hasOwn(rule, key)
          ? rule[key]
          : undefined;
      if (inner === undefined) {
        count++;
        if (count <= MAX_REPORTED_PER_OBJECT) problems.push(unknown(key, at, rule));
        continue;
      }
      if (inner === 'data') continue;
      let child: unknown;
      try {
        child = (v as Record<string | symbol, unknown>)[key];
      } catch (error) {
        problems.push(`${join(name(at), key)}: cannot be read (${oneLine(error)})`);
        continue;
      }
      walk(child, inner, [...at, key as string]);
    }
    if (count > MAX_REPORTED_PER_OBJECT) {
      problems.push(
        `${name(at) || 'options'}: ${count - MAX_REPORTED_PER_OBJECT} more unknown options not listed`,
      );
    }
  };
  for (const key of polluted()) {
    problems.push(
      `${join('Object.prototype', key)}: set on every object's prototype (prototype pollution), so every options object inherits it; find what assigns it`,
    );
  }
  walk(value, table, []);
  return problems;
}
