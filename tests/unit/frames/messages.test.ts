import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createGuard,
  type Guard,
  type GuardConnection,
  type GuardOptions,
  type MessageDecision,
  parseFrame,
  type StandardSchemaV1,
  scanJson,
} from '../../../src/mod.ts';

const ORIGIN = 'https://app.example.com';
const SECRET = 'm'.repeat(40);
const MiB = 1024 * 1024;

const sign = (sub: string): Promise<string> =>
  new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

function setup(extra: Partial<GuardOptions> = {}): {
  guard: Guard;
  connect: (sub?: string) => Promise<GuardConnection>;
} {
  const guard = createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    audit: false,
    penalties: false,
    ...extra,
  });
  const connect = async (sub = 'alice'): Promise<GuardConnection> => {
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${await sign(sub)}` },
      }),
      ip: '203.0.113.7',
    });
    if (!d.ok) throw new Error(`upgrade refused: ${d.reason}`);
    return d.connection;
  };
  return { guard, connect };
}

type Reply = Extract<MessageDecision, { action: 'reply' }>;

function expectReply(d: MessageDecision, reason: string): Reply {
  expect(d.action).toBe('reply');
  if (d.action !== 'reply') throw new Error('not a reply');
  expect(d.reason).toBe(reason);
  return d;
}

function expectClose(d: MessageDecision, code: number, reason: string): void {
  expect(d).toMatchObject({ action: 'close', code, reason });
}

describe('message size limit', () => {
  it('delivers an ASCII text frame of exactly maxBytes and closes 1009 one byte over', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 16 } });
    const c = await connect();
    const exact = JSON.stringify('a'.repeat(14)); // 16 bytes
    expect(await guard.message(c, exact)).toEqual({ action: 'deliver', value: 'a'.repeat(14) });
    expectClose(await guard.message(c, JSON.stringify('a'.repeat(15))), 1009, 'too_big');
  });

  it('measures text frames in UTF-8 bytes: multi-byte text just under passes, just over closes 1009', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 12 } });
    const c = await connect();
    // "€" is 3 bytes in UTF-8 but 1 UTF-16 unit: 11 bytes under, 14 bytes over.
    expect(await guard.message(c, '"€€€"')).toEqual({ action: 'deliver', value: '€€€' });
    expectClose(await guard.message(c, '"€€€€"'), 1009, 'too_big');
    // "😀" is 4 bytes and 2 UTF-16 units: 10 bytes under, 14 bytes over.
    expect(await guard.message(c, '"😀😀"')).toEqual({ action: 'deliver', value: '😀😀' });
    expectClose(await guard.message(c, '"😀😀😀"'), 1009, 'too_big');
  });

  it('measures text frames in UTF-8 bytes when JSON parsing is off too', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 12, json: false } });
    const c = await connect();
    expect(await guard.message(c, '€€€€')).toEqual({ action: 'deliver', value: '€€€€' }); // 12 bytes
    expectClose(await guard.message(c, '€€€€€'), 1009, 'too_big'); // 15 bytes, 5 units
  });

  it('closes 1009 for binary frames over maxBytes (ArrayBuffer and views) and delivers exactly maxBytes', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 8 } });
    const c = await connect();
    const eight = new TextEncoder().encode('[1,2,33]');
    expect(eight.byteLength).toBe(8);
    expect(await guard.message(c, eight)).toEqual({ action: 'deliver', value: [1, 2, 33] });
    expect(await guard.message(c, eight.buffer)).toEqual({ action: 'deliver', value: [1, 2, 33] });
    expectClose(await guard.message(c, new Uint8Array(9).fill(32)), 1009, 'too_big');
    expectClose(await guard.message(c, new ArrayBuffer(9)), 1009, 'too_big');
    expectClose(await guard.message(c, new DataView(new ArrayBuffer(100))), 1009, 'too_big');
  });

  it('exposes the effective limit for adapters', () => {
    expect(setup().guard.maxBytes).toBe(64 * 1024);
    expect(setup({ messages: { maxBytes: 1000 } }).guard.maxBytes).toBe(1000);
  });
});

describe('UTF-8 validity', () => {
  it('answers a binary frame with invalid UTF-8 with an error reply, not a close', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    const d = expectReply(
      await guard.message(c, new Uint8Array([0x7b, 0xff, 0x7d])),
      'invalid_utf8',
    );
    expect(d.reply.error.code).toBe('BAD_REQUEST');
    // A lone continuation byte and a truncated sequence are refused the same way.
    expectReply(await guard.message(c, new Uint8Array([0x22, 0x80, 0x22])), 'invalid_utf8');
    expectReply(await guard.message(c, new Uint8Array([0x22, 0xe2, 0x82, 0x22])), 'invalid_utf8');
  });

  it('delivers valid multi-byte UTF-8 in a binary frame', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    const d = await guard.message(c, new TextEncoder().encode('{"t":"héllo €"}'));
    expect(d).toEqual({ action: 'deliver', value: { t: 'héllo €' } });
  });
});

describe('JSON depth and size before parsing', () => {
  it('refuses a 1,000,000-deep array cleanly as too_deep, with no stack overflow', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 4 * MiB } });
    const c = await connect();
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const d = expectReply(await guard.message(c, deep), 'too_deep');
    expect(d.reply.error.code).toBe('BAD_REQUEST');
  });

  it('refuses a 1,000,000-deep {"a":{"a":…}} object cleanly as too_deep', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 8 * MiB } });
    const c = await connect();
    const deep = `${'{"a":'.repeat(1_000_000)}1${'}'.repeat(1_000_000)}`;
    expectReply(await guard.message(c, deep), 'too_deep');
  });

  it('refuses unbalanced deep input (only openers) the same way', async () => {
    const { guard, connect } = setup({ messages: { maxBytes: 4 * MiB } });
    const c = await connect();
    expectReply(await guard.message(c, '['.repeat(1_000_000)), 'too_deep');
  });

  it('accepts nesting up to maxDepth and refuses one level more', async () => {
    const { guard, connect } = setup({ messages: { maxDepth: 4 } });
    const c = await connect();
    expect((await guard.message(c, '[[[[1]]]]')).action).toBe('deliver');
    expectReply(await guard.message(c, '[[[[[1]]]]]'), 'too_deep');
  });

  it('does not count brackets inside strings (escaped quotes included) as nesting', async () => {
    const { guard, connect } = setup({ messages: { maxDepth: 2 } });
    const c = await connect();
    const text = JSON.stringify({ s: `[[[[{{{{ \\" "[[[[` });
    expect(await guard.message(c, text)).toEqual({ action: 'deliver', value: JSON.parse(text) });
  });

  it('answers malformed JSON with an error reply', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    expectReply(await guard.message(c, '{"a":'), 'malformed');
    expectReply(await guard.message(c, 'not json'), 'malformed');
  });
});

describe('scanJson and parseFrame', () => {
  it('scanJson stops at the first excess and ignores string contents', () => {
    expect(scanJson('[[[]]]', 3, 10)).toBe('ok');
    expect(scanJson('[[[[]]]]', 3, 10)).toBe('too_deep');
    expect(scanJson('"[[[[[[["', 1, 10)).toBe('ok');
    expect(scanJson('["\\"[[[[["]', 1, 10)).toBe('ok');
  });

  it('scanJson counts object keys plus array items exactly, as maxEntries documents', () => {
    expect(scanJson('[1,2,3]', 5, 3)).toBe('ok');
    expect(scanJson('[1,2,3]', 5, 2)).toBe('too_many_keys');
    expect(scanJson('{"a":1,"b":2}', 5, 2)).toBe('ok');
    expect(scanJson('{"a":1,"b":2}', 5, 1)).toBe('too_many_keys');
    expect(scanJson('[]', 5, 0)).toBe('ok');
    expect(scanJson('[ \n ]', 5, 0)).toBe('ok');
    expect(scanJson('["x"]', 5, 0)).toBe('too_many_keys');
    expect(scanJson('[[],[]]', 5, 2)).toBe('ok');
    expect(scanJson('[[],[]]', 5, 1)).toBe('too_many_keys');
    // One key holding two items: three entries.
    expect(scanJson('{"a":[1, 2]}', 5, 3)).toBe('ok');
    expect(scanJson('{"a":[1, 2]}', 5, 2)).toBe('too_many_keys');
    // Commas and colons inside strings are not entries.
    expect(scanJson('["a,b:c,d"]', 5, 1)).toBe('ok');
  });

  it('parseFrame reports each structural problem by name', () => {
    expect(parseFrame('{"a":[1]}', 100, 5, 10)).toEqual({
      ok: true,
      value: { a: [1] },
      text: '{"a":[1]}',
    });
    expect(parseFrame('x'.repeat(101), 100, 5, 10)).toEqual({ ok: false, problem: 'too_big' });
    expect(parseFrame(new Uint8Array([0xc3]), 100, 5, 10)).toEqual({
      ok: false,
      problem: 'invalid_utf8',
    });
    expect(parseFrame('{', 100, 5, 10)).toEqual({ ok: false, problem: 'malformed' });
    expect(parseFrame('[[[[[[1]]]]]]', 100, 5, 10)).toEqual({ ok: false, problem: 'too_deep' });
    expect(parseFrame('[1,1,1,1,1,1,1,1,1,1,1,1]', 100, 5, 10)).toEqual({
      ok: false,
      problem: 'too_many_keys',
    });
    expect(parseFrame('{"__proto__":1}', 100, 5, 10)).toEqual({
      ok: false,
      problem: 'forbidden_key',
    });
  });

  it('parseFrame refuses a 1,000,000-deep input without recursion', () => {
    const deep = `${'{"a":'.repeat(1_000_000)}1${'}'.repeat(1_000_000)}`;
    expect(parseFrame(deep, 8 * MiB, 32, 1000)).toEqual({ ok: false, problem: 'too_deep' });
  });
});

describe('prototype pollution', () => {
  it('refuses {"__proto__":{"isAdmin":true}} and leaves Object.prototype untouched', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    const d = expectReply(
      await guard.message(c, '{"__proto__":{"isAdmin":true}}'),
      'forbidden_key',
    );
    expect(d.reply.error.code).toBe('BAD_REQUEST');
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('isAdmin');
  });

  it('refuses a __proto__ key hidden deep inside arrays and objects', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    expectReply(
      await guard.message(c, '{"a":[1,{"b":{"__proto__":{"isAdmin":true}}}]}'),
      'forbidden_key',
    );
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });

  it('refuses a __proto__ key spelled with \\u escapes', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    expectReply(await guard.message(c, '{"\\u005f_proto__":{"isAdmin":true}}'), 'forbidden_key');
    expectReply(
      await guard.message(c, '{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}'),
      'forbidden_key',
    );
    expectReply(await guard.message(c, '{"\\u0063onstructor":{}}'), 'forbidden_key');
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });

  it('refuses constructor and prototype keys', async () => {
    const { guard, connect } = setup({ messages: { maxInvalid: 100 } });
    const c = await connect();
    expectReply(
      await guard.message(c, '{"constructor":{"prototype":{"isAdmin":true}}}'),
      'forbidden_key',
    );
    expectReply(await guard.message(c, '{"x":{"prototype":1}}'), 'forbidden_key');
    expectReply(await guard.message(c, '[{"constructor":1}]'), 'forbidden_key');
  });

  it('delivers those words when they are values, not keys', async () => {
    const { guard, connect } = setup();
    const c = await connect();
    const text = '{"text":"__proto__ constructor prototype","list":["constructor"]}';
    expect(await guard.message(c, text)).toEqual({ action: 'deliver', value: JSON.parse(text) });
  });
});

describe('huge arrays', () => {
  const million = `[${new Array(1_000_000).fill('1').join(',')}]`;

  it('refuses a 1e6-element array by the entry limit, with a small reply', async () => {
    const { guard, connect } = setup({
      messages: { maxBytes: 4 * MiB, schema: z.array(z.string()) },
    });
    const c = await connect();
    const d = expectReply(await guard.message(c, million), 'too_many_keys');
    expect(JSON.stringify(d.reply).length).toBeLessThan(500);
  });

  it('refuses a 1e6-element array of the wrong type by the schema, with issues capped to 10', async () => {
    const { guard, connect } = setup({
      messages: { maxBytes: 4 * MiB, maxEntries: 2_000_000, schema: z.array(z.string()) },
    });
    const c = await connect();
    const d = expectReply(await guard.message(c, million), 'schema');
    expect(d.reply.error.code).toBe('BAD_REQUEST');
    expect(d.reply.error.issues).toBeDefined();
    expect(d.reply.error.issues!.length).toBeLessThanOrEqual(10);
    expect(d.reply.error.issues!.length).toBeGreaterThan(0);
    expect(JSON.stringify(d.reply).length).toBeLessThan(5000);
  });

  it('caps issues at a configured maxIssues', async () => {
    const { guard, connect } = setup({ messages: { maxIssues: 2, schema: z.array(z.string()) } });
    const c = await connect();
    const d = expectReply(await guard.message(c, '[1,2,3,4,5]'), 'schema');
    expect(d.reply.error.issues).toEqual([
      { path: [0], message: expect.any(String) },
      { path: [1], message: expect.any(String) },
    ]);
  });
});

describe('schema validation', () => {
  const chat = z.object({ type: z.literal('chat'), text: z.string().max(10) });

  it('delivers the schema output for a valid message (unknown keys stripped by zod)', async () => {
    const { guard, connect } = setup({ messages: { schema: chat } });
    const c = await connect();
    expect(await guard.message(c, '{"type":"chat","text":"hi","extra":1}')).toEqual({
      action: 'deliver',
      value: { type: 'chat', text: 'hi' },
    });
  });

  it('answers an invalid message with the issue paths', async () => {
    const { guard, connect } = setup({ messages: { schema: chat } });
    const c = await connect();
    const d = expectReply(
      await guard.message(c, '{"type":"chat","text":"far too long text"}'),
      'schema',
    );
    expect(d.reply.error.message).toBe('message does not match the schema');
    expect(d.reply.error.issues).toEqual([{ path: ['text'], message: expect.any(String) }]);
  });

  it('awaits an async Standard Schema: good delivers, bad replies', async () => {
    const asyncSchema: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => {
          await Promise.resolve();
          const n = (value as { n?: unknown } | null)?.n;
          return typeof n === 'number'
            ? { value: { n } }
            : { issues: [{ message: 'n must be a number', path: ['n'] }] };
        },
      },
    };
    const { guard, connect } = setup({ messages: { schema: asyncSchema } });
    const c = await connect();
    const good = guard.message(c, '{"n":3}');
    expect(good).toBeInstanceOf(Promise);
    expect(await good).toEqual({ action: 'deliver', value: { n: 3 } });
    const bad = expectReply(await guard.message(c, '{"n":"3"}'), 'schema');
    expect(bad.reply.error.issues).toEqual([{ path: ['n'], message: 'n must be a number' }]);
  });

  it('closes 1011 rather than rejecting when an async schema throws', async () => {
    const throwing: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => Promise.reject(new Error('validator crashed')),
      },
    };
    const errors: unknown[] = [];
    const { guard, connect } = setup({
      messages: { schema: throwing },
      onError: (e) => errors.push(e),
    });
    const c = await connect();
    expectClose(await guard.message(c, '{"n":1}'), 1011, 'internal');
    expect(errors).toHaveLength(1);
  });
});

describe('repeated invalid messages', () => {
  it('replies to the first invalid messages and closes 1008 at maxInvalid', async () => {
    const { guard, connect } = setup({ messages: { maxInvalid: 3 } });
    const c = await connect();
    expectReply(await guard.message(c, '{'), 'malformed');
    expect((await guard.message(c, '{"ok":true}')).action).toBe('deliver');
    expectReply(await guard.message(c, '{"__proto__":1}'), 'forbidden_key');
    expectClose(await guard.message(c, '[[['), 1008, 'repeated_invalid');
  });

  it('counts schema failures as invalid', async () => {
    const { guard, connect } = setup({
      messages: { maxInvalid: 2, schema: z.object({ a: z.number() }) },
    });
    const c = await connect();
    expectReply(await guard.message(c, '{"a":"x"}'), 'schema');
    expectClose(await guard.message(c, '{"a":"y"}'), 1008, 'repeated_invalid');
  });
});

describe('message rate', () => {
  it('answers with retryAfterMs, then closes 4029 after closeAfterRateHits refusals in a row', async () => {
    let t = 5_000_000;
    const { guard, connect } = setup({
      now: () => t,
      limits: {
        messageRate: { limit: 1, windowMs: 1000, burst: 2 },
        userMessageRate: false,
        closeAfterRateHits: 3,
      },
    });
    const c = await connect();
    expect((await guard.message(c, '1')).action).toBe('deliver');
    expect((await guard.message(c, '2')).action).toBe('deliver');
    const first = expectReply(await guard.message(c, '3'), 'message_rate');
    expect(first.reply.error).toEqual({
      code: 'TOO_MANY_REQUESTS',
      message: 'rate limit exceeded',
      retryAfterMs: 1000,
    });
    t += 400;
    const second = expectReply(await guard.message(c, '4'), 'message_rate');
    expect(second.reply.error.retryAfterMs).toBe(600);
    expectClose(await guard.message(c, '5'), 4029, 'message_rate');
  });

  it('counts refusals within a 10 s window: spread wider they never close, one allowed frame between them does not reset', async () => {
    let t = 5_000_000;
    const { guard, connect } = setup({
      now: () => t,
      limits: {
        messageRate: { limit: 1, windowMs: 1000, burst: 1 },
        userMessageRate: false,
        closeAfterRateHits: 2,
      },
    });
    const c = await connect();
    for (let i = 0; i < 3; i++) {
      expect((await guard.message(c, '1')).action).toBe('deliver');
      expectReply(await guard.message(c, '2'), 'message_rate');
      t += 11_000;
    }
    // Now two refusals 1 s apart, an allowed frame between them: the second closes.
    expect((await guard.message(c, '1')).action).toBe('deliver');
    expectReply(await guard.message(c, '2'), 'message_rate');
    t += 1000;
    expect((await guard.message(c, '1')).action).toBe('deliver');
    expectClose(await guard.message(c, '2'), 4029, 'message_rate');
  });

  it('limits each connection on its own', async () => {
    const { guard, connect } = setup({
      now: () => 1,
      limits: { messageRate: { limit: 1, windowMs: 1000, burst: 1 }, userMessageRate: false },
    });
    const a = await connect('alice');
    const b = await connect('bob');
    expect((await guard.message(a, '1')).action).toBe('deliver');
    expectReply(await guard.message(a, '1'), 'message_rate');
    expect((await guard.message(b, '1')).action).toBe('deliver');
  });

  it('limits a user across their connections, leaving other users alone', async () => {
    const t = 7_000_000;
    const { guard, connect } = setup({
      now: () => t,
      limits: {
        messageRate: false,
        userMessageRate: { limit: 1, windowMs: 1000, burst: 2 },
        closeAfterRateHits: 2,
      },
    });
    const a1 = await connect('alice');
    const a2 = await connect('alice');
    const b = await connect('bob');
    expect((await guard.message(a1, '1')).action).toBe('deliver');
    expect((await guard.message(a2, '1')).action).toBe('deliver');
    const d = expectReply(await guard.message(a1, '1'), 'user_message_rate');
    expect(d.reply.error.code).toBe('TOO_MANY_REQUESTS');
    expect(d.reply.error.retryAfterMs).toBe(1000);
    expectReply(await guard.message(a2, '1'), 'user_message_rate');
    expect((await guard.message(b, '1')).action).toBe('deliver');
    expectClose(await guard.message(a1, '1'), 4029, 'user_message_rate');
  });

  it('closes 4029 on repeated per-user refusals even while the per-connection limit passes', async () => {
    const t = 7_000_000;
    const { guard, connect } = setup({
      now: () => t,
      limits: {
        messageRate: { limit: 1000, windowMs: 1000 },
        userMessageRate: { limit: 1, windowMs: 1000, burst: 1 },
        closeAfterRateHits: 3,
      },
    });
    const c = await connect('alice');
    expect((await guard.message(c, '1')).action).toBe('deliver');
    expectReply(await guard.message(c, '1'), 'user_message_rate');
    expectReply(await guard.message(c, '1'), 'user_message_rate');
    expectClose(await guard.message(c, '1'), 4029, 'user_message_rate');
  });
});

describe('json: false', () => {
  it('delivers raw text and binary frames untouched, still under the size limit', async () => {
    const { guard, connect } = setup({ messages: { json: false, maxBytes: 32 } });
    const c = await connect();
    expect(await guard.message(c, 'not json at all {')).toEqual({
      action: 'deliver',
      value: 'not json at all {',
    });
    expect(await guard.message(c, '{"__proto__":1}')).toEqual({
      action: 'deliver',
      value: '{"__proto__":1}',
    });
    const bytes = new Uint8Array([0xff, 0x00, 0x01]);
    const d = await guard.message(c, bytes);
    expect(d.action).toBe('deliver');
    if (d.action === 'deliver') expect(d.value).toBe(bytes);
    expectClose(await guard.message(c, new Uint8Array(33)), 1009, 'too_big');
  });
});

describe('parseFrame skips the JS scan only when the limits cannot be reached', () => {
  it('gives the same verdict as scanning every frame (generated JSON-ish text, small limits)', () => {
    const reference = (text: string, depth: number, entries: number): string => {
      const scan = scanJson(text, depth, entries);
      if (scan !== 'ok') return scan;
      try {
        JSON.parse(text);
      } catch {
        return 'malformed';
      }
      return 'ok';
    };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'a', '1', ' ', '\\'), {
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 30 }),
        (chars, depth, entries) => {
          const text = chars.join('');
          const r = parseFrame(text, 1024, depth, entries);
          const verdict = r.ok ? 'ok' : r.problem;
          expect(verdict, text).toBe(reference(text, depth, entries));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
