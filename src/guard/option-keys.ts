/**
 * The table of every option key `createGuard` knows, and the walk that refuses the others: a typo
 * in a security option (`maxMessageSize` for `messages.maxBytes`) is otherwise a defence that is
 * silently missing. The table is typed against the option interfaces, so it cannot drift from them:
 * a key added to an interface and not to the table (or named in the table and not in the
 * interface) fails to compile.
 *
 * @module
 */

import type { RateRule } from '../core/rate-limit.ts';
import type { GuardOptions } from './options.ts';

/**
 * How the walk treats the value under one key:
 * - `'value'`: a primitive, array or function; an object found there has no keys to give, so each
 *   of its keys is refused.
 * - `'data'`: user data (keys, schemas, stores, role maps): never walked.
 * - a nested {@link KeyTable}: walked with the same rules when the value is an object.
 */
export type KeyRule = 'value' | 'data' | KeyTable;

/** The known keys of one options object, each with how its value is walked. */
export interface KeyTable {
  readonly [key: string]: KeyRule;
}

type Primitive = string | number | bigint | boolean | symbol | null | undefined;
type AnyFunction = (...args: never[]) => unknown;
/** The object part of an option's type: what could carry nested keys. */
type ObjectPart<V> = Exclude<V, Primitive | AnyFunction | readonly unknown[]>;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (
  i: infer I,
) => void
  ? I
  : never;
type IsUnion<T> = [T] extends [UnionToIntersection<T>] ? false : true;

/**
 * The rule an option of type `V` may have: `'value'` when `V` has no object part; otherwise
 * `'data'`, or a table of exactly its keys when that part is one object type (a union of object
 * types, e.g. `Jwk | CryptoKey`, can only be `'data'`: its keys are not one list).
 */
export type RuleFor<V> = [ObjectPart<V>] extends [never]
  ? 'value'
  : IsUnion<ObjectPart<V>> extends true
    ? 'data'
    : 'data' | TableOf<ObjectPart<V>>;

/** A table naming every key of `T` (optional ones too) and no other. */
export type TableOf<T> = { readonly [K in keyof T]-?: RuleFor<T[K]> };

const RATE_RULE: TableOf<RateRule> = {
  limit: 'value',
  windowMs: 'value',
  burst: 'value',
};

/**
 * Every key of {@link GuardOptions}, at every level. To add an option: add it to the interface,
 * then here (`npm run typecheck` names the missing key); `'value'` for a primitive, array or
 * function, `'data'` for user data, a nested table for an options object.
 */
export const GUARD_OPTION_KEYS: TableOf<GuardOptions> = {
  origins: 'value',
  missingOrigin: 'value',
  nullOrigin: 'value',
  dangerouslyAllowAnyOrigin: 'value',
  jwt: {
    algorithms: 'value',
    secret: 'data',
    publicKey: 'data',
    jwks: 'data',
    issuer: 'value',
    audience: 'value',
    allowAnyAudience: 'value',
    typ: 'value',
    clockToleranceSec: 'value',
    maxTokenAgeSec: 'value',
    requireIat: 'value',
    principal: 'value',
  },
  tickets: { ttlMs: 'value', bindIp: 'value', bindOrigin: 'value' },
  credentials: {
    ticket: { param: 'value' },
    query: { param: 'value' },
    header: 'value',
    cookie: {
      name: 'value',
      csrf: { param: 'value', verify: 'value' },
      dangerouslyWithoutCsrf: 'value',
    },
    subprotocol: { prefix: 'value' },
    firstMessage: { timeoutMs: 'value', extract: 'value' },
  },
  allowAnonymous: 'value',
  pathBinding: 'value',
  ipv6Prefix: 'value',
  store: 'data',
  requireSharedStore: 'value',
  limits: {
    connectRate: RATE_RULE,
    messageRate: RATE_RULE,
    userMessageRate: RATE_RULE,
    maxConnectionsPerIp: 'value',
    maxConnectionsPerUser: 'value',
    singleSession: 'value',
    leaseTtlMs: 'value',
    closeAfterRateHits: 'value',
    onStoreError: 'value',
  },
  messages: {
    maxBytes: 'value',
    maxDepth: 'value',
    maxEntries: 'value',
    maxIssues: 'value',
    json: 'value',
    passthrough: 'value',
    schema: 'data',
    permission: 'value',
    resource: 'value',
    maxInvalid: 'value',
  },
  // The role map's keys are the application's role names: not options.
  permissions: { roles: 'data', canAccess: 'value' },
  penalties: {
    threshold: 'value',
    halfLifeMs: 'value',
    banMs: 'value',
    points: {
      origin: 'value',
      credentials_invalid: 'value',
      credentials_missing: 'value',
      csrf: 'value',
      path_mismatch: 'value',
      connect_rate: 'value',
      message_rate: 'value',
      malformed: 'value',
      too_big: 'value',
      protocol: 'value',
      permission: 'value',
    },
  },
  audit: 'value',
  dryRun: 'value',
  requireSecure: 'value',
  rejectModes: {
    banned: 'value',
    connect_rate: 'value',
    origin: 'value',
    insecure_transport: 'value',
    credentials_missing: 'value',
    credentials_invalid: 'value',
    expired: 'value',
    csrf: 'value',
    path_mismatch: 'value',
    user_cap: 'value',
    ip_cap: 'value',
    store_unavailable: 'value',
    internal: 'value',
  },
  retryAfterUnavailableSec: 'value',
  onError: 'value',
  principal: 'value',
  now: 'value',
};

/**
 * Names other WebSocket libraries use for a guard option, with the option's path: edit distance
 * alone cannot see that `maxPayload` (ws) means `messages.maxBytes`. Each target is checked
 * against the table by a test.
 */
export const GUARD_OPTION_ALIASES: Readonly<Record<string, string>> = {
  maxMessageSize: 'messages.maxBytes',
  maxPayload: 'messages.maxBytes', // ws
  maxPayloadLength: 'messages.maxBytes', // uWebSockets.js, Bun
  maxHttpBufferSize: 'messages.maxBytes', // socket.io
  allowedOrigins: 'origins',
  allowOrigins: 'origins',
  origin: 'origins', // cors
  rateLimit: 'limits',
  authTimeout: 'credentials.firstMessage.timeoutMs',
};

/** A known name and where it lives (below the walk's own `path`), for suggestions. */
interface Candidate {
  readonly name: string;
  readonly at: readonly string[];
}

/** Unknown keys reported per object before the rest are counted in one line. */
const MAX_REPORTED_PER_OBJECT = 10;
/** Longer keys get no suggestion: no option name comes close, and the distance is quadratic. */
const MAX_SUGGESTED_LENGTH = 64;
/** Keys shown in a message are cut here, so that one problem stays one readable line. */
const MAX_SHOWN_LENGTH = 64;
/** The guard's tables nest three deep; the bound only stops a hand-built cyclic table. */
const MAX_DEPTH = 16;

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
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment): `kye`
 * is one typo from `key`. Three rows; both strings are short (see {@link MAX_SUGGESTED_LENGTH}).
 */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      let d = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (same ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (before[j - 2] ?? 0) + 1);
      }
      current[j] = d;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Every name of `table` at every level (table order), then the aliases. */
function candidates(table: KeyTable, aliases: Readonly<Record<string, string>>): Candidate[] {
  const out: Candidate[] = [];
  const walk = (t: KeyTable, at: readonly string[]): void => {
    if (at.length > MAX_DEPTH) return;
    for (const name of Object.keys(t)) {
      const path = [...at, name];
      out.push({ name: name.toLowerCase(), at: path });
      const rule = t[name];
      if (typeof rule === 'object') walk(rule, path);
    }
  };
  walk(table, []);
  for (const [alias, target] of Object.entries(aliases)) {
    out.push({ name: alias.toLowerCase(), at: target.split('.') });
  }
  return out;
}

function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The known name nearest to `key` across every level: case-insensitive edit distance within 40%
 * of the key's length, or a name the key is the start of (`ttl` for `ttlMs`). On a tie, the one
 * sharing the longest path with where the key was found, then the one at the nearest depth (a
 * top-level `origin` means `origins`, not `penalties.points.origin`), then the first in table order.
 */
function nearest(
  key: string,
  at: readonly string[],
  all: readonly Candidate[],
): readonly string[] | undefined {
  if (key.length === 0 || key.length > MAX_SUGGESTED_LENGTH) return undefined;
  const name = key.toLowerCase();
  const limit = Math.floor(name.length * 0.4);
  let best: { score: readonly [number, number, number]; at: readonly string[] } | undefined;
  for (const c of all) {
    const d = distance(name, c.name);
    if (d > limit && !(name.length >= 3 && c.name.startsWith(name))) continue;
    // Lower is better, compared in order.
    const score = [d, -sharedPrefix(at, c.at), Math.abs(c.at.length - 1 - at.length)] as const;
    if (!best || before(score, best.score)) best = { score, at: c.at };
  }
  return best?.at;
}

function before(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
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
    if (rule === 'data' || v === null || typeof v !== 'object' || at.length > MAX_DEPTH) return;
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
