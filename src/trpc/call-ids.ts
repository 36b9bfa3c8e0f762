/**
 * The call ids of a frame the guard refused, read without parsing the frame. A refused frame is
 * answered per call (tRPC's client matches answers by id and ignores one without), but only up to
 * a bound, so what it takes to find the ids must be bounded too: this reads the top level (one
 * call object, or an array of them) and, in each call object, the values of `id`, `method` and
 * `jsonrpc`; every other value is stepped over by counting brackets, never parsed or allocated.
 * The walk stops as soon as the visitor says it has enough, so its cost is the part of the frame
 * before the last id it needed. No recursion: any depth costs the same per character.
 *
 * It does not validate what it steps over (the frame is refused anyway): a call is reported once
 * its object has closed, with the same rules `JSON.parse` would give its keys (the last of a
 * duplicated key wins, escapes in keys are decoded).
 *
 * @module
 */

/** A call's id as tRPC's client matches answers: a finite number, or a string of ≤ 256 chars. */
export interface CallId {
  /** The id to answer. */
  readonly id: string | number;
  /** Echoed back when the call carried it. */
  readonly jsonrpc: '2.0' | undefined;
}

/** How a walk ended: the text was read to its end, the visitor stopped it, or it is not JSON. */
export type WalkEnd = 'end' | 'stopped' | 'malformed';

/** Longest id string tRPC's protocol is answered for (longer ones are not a call of ours). */
const MAX_ID_LENGTH = 256;
/** An escaped string can take 6 characters per decoded one (`\uXXXX`), plus its quotes. */
const MAX_RAW_ID = MAX_ID_LENGTH * 6 + 2;
/** Longest raw key or short string value worth decoding (`"subscription"` with escapes). */
const MAX_RAW_WORD = 96;

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Index of the quote closing the string that opens at `start`, or -1. A quote closes it when an
 * even number of backslashes precedes it; each backslash is looked at once, so this is linear.
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

/** Index just past the value that starts at `i`, or -1 when it does not end. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 34) {
    const end = stringEnd(text, i);
    return end < 0 ? -1 : end + 1;
  }
  if (c === 123 || c === 91) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 34) {
        j = stringEnd(text, j);
        if (j < 0) return -1;
      } else if (d === 123 || d === 91) depth++;
      else if ((d === 125 || d === 93) && --depth === 0) return j + 1;
    }
    return -1;
  }
  // A number or a literal: up to the next delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 44 || d === 93 || d === 125 || d === 58 || d === 123 || d === 91 || isSpace(d)) break;
    j++;
  }
  return j === i ? -1 : j;
}

/** A short JSON string token decoded, or undefined (too long to be a word we look for). */
function word(raw: string): string | undefined {
  if (raw.charCodeAt(0) !== 34 || raw.length > MAX_RAW_WORD) return undefined;
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return undefined;
  }
}

/** An id token as tRPC's client could have sent it, or undefined. */
function idOf(raw: string): string | number | undefined {
  const c = raw.charCodeAt(0);
  if (c === 34) {
    if (raw.length > MAX_RAW_ID) return undefined;
    try {
      const id = JSON.parse(raw) as string;
      return id.length <= MAX_ID_LENGTH ? id : undefined;
    } catch {
      return undefined;
    }
  }
  if (c === 45 || (c >= 48 && c <= 57)) {
    try {
      const id = JSON.parse(raw) as unknown;
      return typeof id === 'number' && Number.isFinite(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Read the object at `i` (its opening brace): where it ends, and the call it is, if any. */
function readCall(text: string, i: number): { end: number; call: CallId | undefined } | undefined {
  let id: string | number | undefined;
  let method: string | undefined;
  let jsonrpc: string | undefined;
  let j = skipSpace(text, i + 1);
  if (text.charCodeAt(j) !== 125) {
    for (;;) {
      if (text.charCodeAt(j) !== 34) return undefined;
      const keyEnd = stringEnd(text, j);
      if (keyEnd < 0) return undefined;
      const key = word(text.slice(j, keyEnd + 1));
      j = skipSpace(text, keyEnd + 1);
      if (text.charCodeAt(j) !== 58) return undefined;
      const start = skipSpace(text, j + 1);
      const end = skipValue(text, start);
      if (end < 0) return undefined;
      // Only the three values a call is answered by are ever sliced; a later duplicate wins.
      if (key === 'id') id = idOf(text.slice(start, end));
      else if (key === 'method') method = word(text.slice(start, end));
      else if (key === 'jsonrpc') jsonrpc = word(text.slice(start, end));
      j = skipSpace(text, end);
      const c = text.charCodeAt(j);
      if (c === 125) break;
      if (c !== 44) return undefined;
      j = skipSpace(text, j + 1);
    }
  }
  const isCall = method === 'query' || method === 'mutation' || method === 'subscription';
  return {
    end: j + 1,
    call:
      isCall && id !== undefined
        ? { id, jsonrpc: jsonrpc === '2.0' ? '2.0' : undefined }
        : undefined,
  };
}

/**
 * Visit the call ids of a frame's JSON text in order, until `visit` returns false.
 *
 * @example
 * ```ts
 * visitCallIds('[{"id":1,"method":"query"}]', (call) => { answer(call.id); return true; });
 * ```
 */
export function visitCallIds(text: string, visit: (call: CallId) => boolean): WalkEnd {
  let i = skipSpace(text, 0);
  const c = text.charCodeAt(i);
  if (c === 123) {
    const read = readCall(text, i);
    if (!read) return 'malformed';
    if (read.call && !visit(read.call)) return 'stopped';
    return skipSpace(text, read.end) === text.length ? 'end' : 'malformed';
  }
  if (c !== 91) return skipValue(text, i) < 0 ? 'malformed' : 'end';
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 93)
    return skipSpace(text, i + 1) === text.length ? 'end' : 'malformed';
  for (;;) {
    let end: number;
    if (text.charCodeAt(i) === 123) {
      const read = readCall(text, i);
      if (!read) return 'malformed';
      if (read.call && !visit(read.call)) return 'stopped';
      end = read.end;
    } else {
      end = skipValue(text, i);
      if (end < 0) return 'malformed';
    }
    i = skipSpace(text, end);
    const d = text.charCodeAt(i);
    if (d === 93) return skipSpace(text, i + 1) === text.length ? 'end' : 'malformed';
    if (d !== 44) return 'malformed';
    i = skipSpace(text, i + 1);
  }
}
