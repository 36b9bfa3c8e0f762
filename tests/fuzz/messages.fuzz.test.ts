/**
 * Fuzz: the message guard (`guard.message` of a real `createGuard`) on arbitrary bytes, JSON
 * trees with hostile keys (`__proto__`, `constructor`, `prototype`, also spelled with `\u`
 * escapes), and mutations of both (inserted brackets, quotes and backslashes, cuts, invalid
 * UTF-8 sequences: overlong, surrogate, truncated; views into larger buffers), on anonymous and
 * authenticated connections.
 *
 * Oracles on every frame the guard delivers, checked on the delivered value itself:
 * - the frame is at most `maxBytes`; a binary frame is valid UTF-8 (of exactly its view's bytes)
 *   and the value is `JSON.parse` of that text (a text frame: of the frame);
 * - walking the value: no own key `__proto__` / `constructor` / `prototype` at any depth, no
 *   deeper than `maxDepth`, no more than `maxEntries` keys plus items;
 * - with a schema and a permission rule: the value satisfies the schema and needs no permission
 *   the principal lacks (an anonymous connection has none);
 * - liveness: a clean frame (unique keys, within every limit, nothing forbidden) is delivered;
 * - nothing throws; every refusal is a reply or a close with a code in 1000–4999;
 *   `Object.prototype` is untouched.
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createGuard, type Guard, type GuardConnection } from '../../src/mod.ts';
import { fuzz, timeoutOf } from './fuzz.ts';

const SECRET = 'fuzz-messages-secret-0123456789abcdef';
const LIMITS = { maxBytes: 256, maxDepth: 4, maxEntries: 16 } as const;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

const Message = z.object({
  type: z.enum(['chat', 'admin', 'ping']),
  text: z.string().max(40).optional(),
  data: z.unknown().optional(),
});
/** `admin` messages need a permission the fuzz principal does not have. */
const permissionOf = (m: unknown): string | undefined =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'admin'
    ? 'admin.write'
    : undefined;

function guardWith(checks: boolean): Guard {
  return createGuard({
    origins: ['https://app.example.com'],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    allowAnonymous: true,
    permissions: { roles: { user: ['chat.*'] } },
    messages: {
      ...LIMITS,
      passthrough: ['PING'],
      maxInvalid: 1_000_000,
      ...(checks ? { schema: Message, permission: permissionOf } : {}),
    },
    limits: {
      connectRate: false,
      messageRate: false,
      userMessageRate: false,
      maxConnectionsPerIp: false,
      maxConnectionsPerUser: false,
    },
    penalties: false,
    audit: false,
    onError: () => {},
  });
}

// ---- frames ----------------------------------------------------------------------------------

/** A JSON tree, serialized by hand so that `__proto__` can be a plain key (and escaped). */
type Tree =
  | { readonly t: 'lit'; readonly text: string }
  | { readonly t: 'arr'; readonly items: readonly Tree[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, Tree])[] };

const KEYS = [
  'type',
  'text',
  'data',
  'a',
  'b',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
];
const literal = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '0', '-1.5e3', '"chat"', '"admin"', '"ping"', '""'),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.integer().map(String),
);
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal.map((text): Tree => ({ t: 'lit', text })),
    fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ t: 'arr', items })),
    fc
      .uniqueArray(fc.tuple(fc.constantFrom(...KEYS), tie('tree')), {
        maxLength: 4,
        selector: ([k]) => k,
      })
      .map((entries): Tree => ({ t: 'obj', entries })),
  ),
}));

/** JSON text of a tree; `escaped` spells every key's first letter as a `\u` escape. */
function serialize(node: Tree, escaped: boolean): string {
  if (node.t === 'lit') return node.text;
  if (node.t === 'arr') return `[${node.items.map((i) => serialize(i, escaped)).join(',')}]`;
  const key = (k: string) =>
    escaped
      ? `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"`
      : JSON.stringify(k);
  return `{${node.entries.map(([k, v]) => `${key(k)}:${serialize(v, escaped)}`).join(',')}}`;
}

/** Message-shaped trees: a `type` the schema knows, so the checks past it are reached. */
const messageTree: fc.Arbitrary<Tree> = fc
  .tuple(
    fc.constantFrom('"chat"', '"admin"', '"ping"', '"other"'),
    fc.option(
      fc.string({ maxLength: 50 }).map((s) => JSON.stringify(s)),
      { nil: undefined },
    ),
    fc.option(tree, { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom(...KEYS), tree), { nil: undefined }),
  )
  .map(([type, text, data, extra]): Tree => {
    const entries: [string, Tree][] = [['type', { t: 'lit', text: type }]];
    if (text !== undefined) entries.push(['text', { t: 'lit', text }]);
    if (data !== undefined) entries.push(['data', data]);
    if (extra !== undefined && !entries.some(([k]) => k === extra[0])) entries.push(extra);
    return { t: 'obj', entries };
  });

/** Edits of a text: characters JSON cares about inserted, slices cut or doubled. */
const edit = fc.oneof(
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('{', '[', '}', ']', '"', '\\', ',', ':', '\\u', '\u0000', 'é', '😀'),
    )
    .map(
      ([at, ch]) =>
        (s: string) =>
          s.slice(0, at % (s.length + 1)) + ch + s.slice(at % (s.length + 1)),
    ),
  fc.tuple(fc.nat(), fc.nat(8)).map(
    ([at, n]) =>
      (s: string) =>
        s.slice(0, at % (s.length + 1)) + s.slice((at % (s.length + 1)) + n),
  ),
  fc.tuple(fc.nat(), fc.nat(16)).map(([at, n]) => (s: string) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + s.slice(i, i + n) + s.slice(i);
  }),
);

/** Byte sequences that are not UTF-8. */
const badUtf8 = fc.constantFrom(
  [0xc0, 0x80],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xff],
  [0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
);

type Encoding = 'string' | 'bytes' | 'buffer' | 'view' | 'corrupt';

interface FrameCase {
  readonly frame: string | ArrayBuffer | ArrayBufferView;
  /** The frame's own bytes (a view's, not its buffer's); undefined for a text frame. */
  readonly bytes: Uint8Array | undefined;
  /** Generated from a clean tree, unedited: the guard must deliver it when within the limits. */
  readonly clean: boolean;
}

function encode(
  text: string,
  encoding: Encoding,
  bad: readonly number[],
  at: number,
): FrameCase['frame'] {
  const utf8 = new TextEncoder().encode(text);
  switch (encoding) {
    case 'string':
      return text;
    case 'bytes':
      return utf8;
    case 'buffer':
      return utf8.buffer.slice(utf8.byteOffset, utf8.byteOffset + utf8.byteLength);
    case 'view': {
      // A view into a larger buffer: bytes around it that are not the frame (and not UTF-8).
      const big = new Uint8Array(utf8.byteLength + 8).fill(0xff);
      big.set(utf8, 4);
      return new DataView(big.buffer, 4, utf8.byteLength);
    }
    default: {
      const i = at % (utf8.byteLength + 1);
      return Uint8Array.from([...utf8.subarray(0, i), ...bad, ...utf8.subarray(i)]);
    }
  }
}

function bytesOf(frame: FrameCase['frame']): Uint8Array | undefined {
  if (typeof frame === 'string') return undefined;
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** A JSON tree or message as text, maybe escaped and edited, in one of the encodings. */
const jsonFrame: fc.Arbitrary<FrameCase> = fc
  .record({
    root: fc.oneof(tree, messageTree),
    escaped: fc.boolean(),
    edits: fc.oneof(fc.constant([]), fc.array(edit, { minLength: 1, maxLength: 3 })),
    encoding: fc.constantFrom<Encoding>('string', 'bytes', 'buffer', 'view', 'corrupt'),
    bad: badUtf8,
    at: fc.nat(),
  })
  .map(({ root, escaped, edits, encoding, bad, at }): FrameCase => {
    let text = serialize(root, escaped);
    for (const e of edits) text = e(text);
    const frame = encode(text, encoding, bad, at);
    return {
      frame,
      bytes: bytesOf(frame),
      clean: edits.length === 0 && encoding !== 'corrupt',
    };
  });

const frameArb: fc.Arbitrary<FrameCase> = fc.oneof(
  // Arbitrary bytes.
  fc.uint8Array({ maxLength: 300 }).map((b): FrameCase => ({ frame: b, bytes: b, clean: false })),
  // Arbitrary text.
  fc
    .string({ unit: 'grapheme', maxLength: 120 })
    .map((s): FrameCase => ({ frame: s, bytes: undefined, clean: false })),
  fc
    .constantFrom('PING', 'PONG', 'ping', 'PING ')
    .map((s): FrameCase => ({ frame: s, bytes: undefined, clean: false })),
  // JSON trees and messages, escaped or not, edited or not, in every encoding.
  { weight: 4, arbitrary: jsonFrame },
);

// ---- the oracle ------------------------------------------------------------------------------

/** Depth (containers nested), entries (keys + items) and forbidden own keys of a parsed value. */
function measure(value: unknown): { depth: number; entries: number; forbidden: boolean } {
  let depth = 0;
  let entries = 0;
  let forbidden = false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    depth = Math.max(depth, d + 1);
    for (const key of Reflect.ownKeys(v)) {
      if (Array.isArray(v) && key === 'length') continue;
      entries++;
      if (typeof key === 'string' && FORBIDDEN.has(key)) forbidden = true;
      stack.push([(v as Record<PropertyKey, unknown>)[key], d + 1]);
    }
  }
  return { depth, entries, forbidden };
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** The text a frame carries if it is UTF-8 (undefined when it is not). */
function textOf(c: FrameCase): string | undefined {
  if (c.bytes === undefined) return c.frame as string;
  try {
    return strictDecoder.decode(c.bytes);
  } catch {
    return undefined;
  }
}

function sizeOf(c: FrameCase): number {
  return c.bytes?.byteLength ?? new TextEncoder().encode(c.frame as string).byteLength;
}

function parses(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const snapshot = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

let plain: Guard;
let checked: Guard;
let token: string;
beforeAll(async () => {
  plain = guardWith(false);
  checked = guardWith(true);
  token = await new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('fuzzer')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
});
afterAll(async () => {
  await plain.shutdown();
  await checked.shutdown();
});

async function connect(guard: Guard, authenticated: boolean): Promise<GuardConnection> {
  const headers: Record<string, string> = authenticated ? { authorization: `Bearer ${token}` } : {};
  const d = await guard.upgrade({
    request: new Request('http://localhost/ws', { headers }),
    ip: '203.0.113.9',
  });
  if (!d.ok) throw new Error(`handshake refused: ${d.reason}`);
  return d.connection;
}

/** Run one frame through `guard` on a fresh connection and check the decision. */
async function check(guard: Guard, schema: boolean, authenticated: boolean, c: FrameCase) {
  const connection = await connect(guard, authenticated);
  try {
    const d = await guard.message(connection, c.frame);
    const text = textOf(c);
    const size = sizeOf(c);
    const parsed = text === undefined ? undefined : parses(text);
    if (d.action === 'deliver') {
      expect(size).toBeLessThanOrEqual(LIMITS.maxBytes);
      expect(text, 'delivered a frame that is not UTF-8').toBeDefined();
      if (text === 'PING' && typeof c.frame === 'string') {
        expect(d.value).toBe('PING');
        return 'delivered';
      }
      expect(parsed?.ok, 'delivered a frame that is not JSON').toBe(true);
      const raw = (parsed as { value: unknown }).value;
      // With a schema the app gets the schema's output (zod drops unknown keys), else the parse.
      if (!schema) expect(d.value).toEqual(raw);
      else {
        const out = Message.safeParse(raw);
        expect(out.success, 'delivered a value the schema refuses').toBe(true);
        expect(d.value).toEqual(out.data);
      }
      const m = measure(d.value);
      expect(m.forbidden, 'delivered a forbidden key').toBe(false);
      expect(m.depth).toBeLessThanOrEqual(LIMITS.maxDepth);
      expect(m.entries).toBeLessThanOrEqual(LIMITS.maxEntries);
      if (schema) {
        expect(Message.safeParse(d.value).success, 'delivered a value the schema refuses').toBe(
          true,
        );
        expect(permissionOf(d.value), 'delivered a message needing admin.write').toBeUndefined();
      }
      return 'delivered';
    }
    expect(['reply', 'close']).toContain(d.action);
    if (d.action === 'close') {
      expect(d.code).toBeGreaterThanOrEqual(1000);
      expect(d.code).toBeLessThanOrEqual(4999);
    }
    if (size > LIMITS.maxBytes) expect(d.action).toBe('close');
    // Liveness: a clean frame within every limit is not refused by the structural checks.
    if (c.clean && !schema && parsed?.ok && size <= LIMITS.maxBytes) {
      const m = measure(parsed.value);
      if (!m.forbidden && m.depth <= LIMITS.maxDepth && m.entries <= LIMITS.maxEntries)
        throw new Error(`refused a clean frame (${d.reason}): ${text}`);
    }
    return 'refused';
  } finally {
    await guard.close(connection, 1000);
  }
}

describe('fuzz: the message guard', () => {
  for (const [name, schema] of [
    ['structural checks', false],
    ['with a schema and a permission rule', true],
  ] as const) {
    for (const authenticated of [true, false]) {
      const who = authenticated ? 'authenticated' : 'anonymous';
      it(
        `${name}, ${who}: never delivers what the limits forbid`,
        async () => {
          const protoBefore = snapshot();
          const outcomes = { delivered: 0, refused: 0 };
          await fuzz(
            `message guard (${name}, ${who})`,
            fc.asyncProperty(frameArb, async (c) => {
              outcomes[await check(schema ? checked : plain, schema, authenticated, c)]++;
            }),
            { weight: 5, msPerRun: 1 },
          );
          expect(snapshot()).toEqual(protoBefore);
          // Both outcomes happen: the oracle on delivered values is not vacuous.
          expect(outcomes.delivered).toBeGreaterThan(0);
          expect(outcomes.refused).toBeGreaterThan(0);
        },
        timeoutOf({ weight: 5, msPerRun: 1 }),
      );
    }
  }
});
