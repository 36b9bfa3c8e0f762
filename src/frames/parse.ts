/**
 * Message checks, in order of cost: byte size, UTF-8 validity, a single linear scan that bounds
 * JSON depth and the number of keys and items (before any recursive walk: zod's `z.lazy` throws
 * at depth ~5,000 and `JSON.stringify` at ~10,000), `JSON.parse`, a refusal of `__proto__`,
 * `constructor` and `prototype` keys, then schema validation through any Standard Schema (zod 4
 * included) with the number of reported issues capped.
 *
 * @module
 */
import type { StandardSchemaV1 } from '../core/standard-schema.ts';

/** Message limits. */
export interface MessageLimits {
  /**
   * Largest message in bytes (OWASP's advice).
   * @default 65536
   */
  readonly maxBytes?: number;
  /**
   * Deepest nesting of objects and arrays.
   * @default 32
   */
  readonly maxDepth?: number;
  /**
   * Most object keys plus array items in one message, in total.
   * @default 1000
   */
  readonly maxEntries?: number;
  /**
   * Most validation issues reported back to the client.
   * @default 10
   */
  readonly maxIssues?: number;
}

/** Why a frame failed the structural checks. */
export type FrameProblem =
  | 'too_big'
  | 'invalid_utf8'
  | 'malformed'
  | 'too_deep'
  | 'too_many_keys'
  | 'forbidden_key';

/** A parsed frame or the reason it was refused. */
export type ParseResult =
  | { readonly ok: true; readonly value: unknown; readonly text: string }
  | { readonly ok: false; readonly problem: FrameProblem };

/** A validation issue as reported to clients: a path and a message, nothing else. */
export interface ReportedIssue {
  /** Where in the message. */
  readonly path: readonly (string | number)[];
  /** What is wrong. */
  readonly message: string;
}

/** Schema validation outcome. */
export type ValidationResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly issues: readonly ReportedIssue[]; readonly total: number };

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Index of the quote closing the string that opens at `start`, or -1. Strings are most of a
 * typical message, so they are skipped with the native `indexOf` rather than a character loop: a
 * quote closes the string when an even number of backslashes precedes it (each pair is one escaped
 * backslash; the run cannot extend past the opening quote). Each backslash is counted once, so the
 * scan stays linear.
 */
function stringEnd(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  while (q !== -1) {
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return -1;
}

/**
 * Scan JSON text once, tracking string state, nesting depth and the count of object keys plus
 * array items; stops at the first excess.
 * It does not validate the JSON (JSON.parse does that); it only bounds what parsing and the later
 * walks can cost.
 */
export function scanJson(
  text: string,
  maxDepth: number,
  maxEntries: number,
): 'ok' | 'too_deep' | 'too_many_keys' {
  let depth = 0;
  let entries = 0;
  // Whether each open container is an array (bounded by maxDepth: the scan stops past it).
  const arrays: boolean[] = [];
  // Just after '[': the next significant character starts the first item, unless it is ']'.
  let arrayStart = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (arrayStart && c !== 32 && c !== 9 && c !== 10 && c !== 13) {
      arrayStart = false;
      if (c !== 93 && ++entries > maxEntries) return 'too_many_keys';
    }
    if (c === 34) {
      i = stringEnd(text, i);
      if (i < 0) return 'ok'; // unterminated: no structure follows (JSON.parse refuses it)
    } else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return 'too_deep';
      arrays.push(c === 91);
      arrayStart = c === 91;
    } else if ((c === 125 || c === 93) && depth > 0) {
      depth--;
      arrays.pop();
    } else if (c === 58 || (c === 44 && arrays[arrays.length - 1] === true)) {
      // Every key has a colon; every array item after the first follows a comma.
      if (++entries > maxEntries) return 'too_many_keys';
    }
  }
  return 'ok';
}

/**
 * Whether a parsed value holds a forbidden key anywhere. Iterative (depth is already bounded, but
 * an explicit stack keeps this safe for any input).
 */
export function hasForbiddenKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) return true;
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/**
 * A frame's size in bytes, as the limit counts it: UTF-8 bytes for text. A string's UTF-8 size
 * lies between its length and three times it, so it is encoded only when that band straddles
 * `limit`.
 */
export function frameBytes(frame: string | ArrayBuffer | ArrayBufferView, limit: number): number {
  if (typeof frame !== 'string') return frame.byteLength;
  if (frame.length > limit || frame.length * 3 <= limit) return frame.length;
  return new TextEncoder().encode(frame).byteLength;
}

/**
 * Whether `text` cannot break the limits whatever it holds, checked without walking it in JS:
 * every level of depth opens with its own `{` or `[`, and every counted entry sits on its own
 * character, so a text with at most `maxDepth` brackets and `maxEntries` characters passes
 * {@link scanJson}. Most frames are small and shallow; the counts use native `indexOf`.
 */
function withinBounds(text: string, maxDepth: number, maxEntries: number): boolean {
  if (text.length > maxEntries) return false;
  let brackets = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1))
    if (++brackets > maxDepth) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1))
    if (++brackets > maxDepth) return false;
  return true;
}

/**
 * Decode and parse one frame under the limits. Text frames arrive as strings (the runtime has
 * decoded them); binary frames are decoded strictly as UTF-8.
 */
export function parseFrame(
  frame: string | ArrayBuffer | ArrayBufferView,
  maxBytes: number,
  maxDepth: number,
  maxEntries: number,
): ParseResult {
  let text: string;
  if (typeof frame === 'string') {
    if (frameBytes(frame, maxBytes) > maxBytes) return { ok: false, problem: 'too_big' };
    text = frame;
  } else {
    if (frame.byteLength > maxBytes) return { ok: false, problem: 'too_big' };
    try {
      text = decoder.decode(frame);
    } catch {
      return { ok: false, problem: 'invalid_utf8' };
    }
  }
  if (!withinBounds(text, maxDepth, maxEntries)) {
    const scan = scanJson(text, maxDepth, maxEntries);
    if (scan !== 'ok') return { ok: false, problem: scan };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  // Fast path: a forbidden key must appear literally, or hide behind a \u escape ('proto' is
  // in both `__proto__` and `prototype`).
  if (
    (text.includes('proto') || text.includes('constructor') || text.includes('\\u')) &&
    hasForbiddenKey(value)
  ) {
    return { ok: false, problem: 'forbidden_key' };
  }
  return { ok: true, value, text };
}

function issuePath(path: StandardSchemaV1.Issue['path']): (string | number)[] {
  if (!path) return [];
  return path.map((seg) => {
    const key = typeof seg === 'object' && seg !== null ? seg.key : seg;
    return typeof key === 'number' ? key : String(key).slice(0, 64);
  });
}

function report(issues: readonly StandardSchemaV1.Issue[], maxIssues: number): ValidationResult {
  const shown: ReportedIssue[] = [];
  for (let i = 0; i < issues.length && i < maxIssues; i++) {
    const issue = issues[i]!;
    shown.push({ path: issuePath(issue.path), message: String(issue.message).slice(0, 200) });
  }
  return { ok: false, issues: shown, total: issues.length };
}

/**
 * Validate with a Standard Schema (zod 4, valibot, arktype…), capping reported issues.
 * Synchronous schemas answer synchronously; async ones return a promise.
 */
export function validate(
  schema: StandardSchemaV1,
  value: unknown,
  maxIssues: number,
): ValidationResult | Promise<ValidationResult> {
  const result = schema['~standard'].validate(value);
  const finish = (r: StandardSchemaV1.Result<unknown>): ValidationResult =>
    r.issues ? report(r.issues, maxIssues) : { ok: true, value: r.value };
  return result instanceof Promise ? result.then(finish) : finish(result);
}
