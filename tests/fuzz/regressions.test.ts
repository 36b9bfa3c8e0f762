/**
 * Counterexamples the fuzz tests found, minimized and kept as plain tests, plus edge cases they
 * exercise that must stay covered whatever the generators draw.
 *
 * Two are defects in src/guard/create-guard.ts (not fixed here; see the report of issue 13) and FAIL until it
 * is fixed:
 * 1. `credentials.fuzz`: a cookie credential over the size limit (or empty) is handed to the app's
 *    `csrf.verify` hook before the guard refuses it; "over 8 KiB is refused unparsed" should hold
 *    for the app's hooks too.
 * 2. `messages.fuzz`: on an anonymous connection (`allowAnonymous`) a parsed frame is delivered
 *    without `messages.schema`, `messages.permission` or `messages.resource`: any value reaches
 *    the app, and a message that needs a permission is delivered from a client that has none.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_CREDENTIAL_LENGTH } from '../../src/handshake/credentials.ts';
import { createGuard, type Guard, type GuardOptions } from '../../src/mod.ts';

const SECRET = 'fuzz-regressions-secret-0123456789abcdef';

function guardWith(extra: Partial<GuardOptions>): Guard {
  return createGuard({
    origins: ['https://app.example.com'],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    onError: () => {},
    ...extra,
  });
}

describe('credentials: the CSRF hook never sees a cookie the guard refuses unparsed', () => {
  const cases: [string, string][] = [
    ['over the limit (found by credentials.fuzz)', 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1)],
    ['empty', ''],
  ];
  for (const [name, cookie] of cases) {
    it(`a cookie ${name}: refused as invalid, and csrf.verify is not called`, async () => {
      const seen: number[] = [];
      const guard = guardWith({
        credentials: {
          header: false,
          cookie: {
            name: 'session',
            csrf: {
              verify: (_token, value) => {
                seen.push(value.length);
                return true;
              },
            },
          },
        },
      });
      const d = await guard.upgrade({
        request: new Request('http://localhost/ws?csrf=good', {
          headers: { cookie: `session=${cookie}`, origin: 'https://app.example.com' },
        }),
        ip: '198.51.100.7',
      });
      expect(d.ok ? 'accepted' : d.reason).toBe('credentials_invalid');
      // Fails before the fix: the hook is called with the 8193-character (or empty) value.
      expect(seen).toEqual([]);
      await guard.shutdown();
    });
  }
});

describe('messages: an anonymous connection gets the same checks as an authenticated one', () => {
  const Message = z.object({ type: z.enum(['chat', 'admin']) });
  const anonymous = async (guard: Guard) => {
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws'),
      ip: '203.0.113.9',
    });
    if (!d.ok) throw new Error(d.reason);
    return d.connection;
  };
  const checkedGuard = () =>
    guardWith({
      allowAnonymous: true,
      messages: {
        schema: Message,
        permission: (m) => ((m as { type?: unknown }).type === 'admin' ? 'admin.write' : undefined),
      },
    });

  it('a frame the schema refuses (`""`, found by messages.fuzz) is not delivered', async () => {
    const guard = checkedGuard();
    const c = await anonymous(guard);
    const d = await guard.message(c, '""');
    // Fails before the fix: delivered as the string "".
    expect(d.action === 'deliver' ? 'delivered' : d.reason).toBe('schema');
    await guard.shutdown();
  });

  it('a message that needs a permission is not delivered from a client that has none', async () => {
    const guard = checkedGuard();
    const c = await anonymous(guard);
    const d = await guard.message(c, '{"type":"admin"}');
    // Fails before the fix: delivered.
    expect(d.action === 'deliver' ? 'delivered' : d.reason).toBe('permission');
    // An allowed message still goes through.
    const ok = await guard.message(c, '{"type":"chat"}');
    expect(ok.action).toBe('deliver');
    await guard.shutdown();
  });
});

describe('edge cases the message fuzz reaches (kept regardless of what it draws)', () => {
  const guard = () =>
    guardWith({
      allowAnonymous: true,
      messages: { maxBytes: 256, maxDepth: 4, maxEntries: 16 },
      limits: { connectRate: false, messageRate: false },
    });
  const open = async (g: Guard) => {
    const d = await g.upgrade({ request: new Request('http://localhost/ws'), ip: '203.0.113.9' });
    if (!d.ok) throw new Error(d.reason);
    return d.connection;
  };

  it('forbidden keys spelled with \\u escapes are refused', async () => {
    const g = guard();
    const c = await open(g);
    for (const frame of [
      '{"\\u005f_proto__":{"x":1}}',
      '[{"\\u0070rototype":null}]',
      '{"a":{"\\u0063onstructor":{}}}',
    ]) {
      const d = await g.message(c, frame);
      expect(d.action === 'deliver' ? 'delivered' : d.reason, frame).toBe('forbidden_key');
    }
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    await g.shutdown();
  });

  it('a view into a larger buffer is read as its own bytes only', async () => {
    const g = guard();
    const c = await open(g);
    const text = new TextEncoder().encode('{"a":[1,2]}');
    const big = new Uint8Array(text.byteLength + 8).fill(0xff); // invalid UTF-8 around it
    big.set(text, 4);
    const d = await g.message(c, new DataView(big.buffer, 4, text.byteLength));
    expect(d).toEqual({ action: 'deliver', value: { a: [1, 2] } });
    const bad = await g.message(c, new DataView(big.buffer, 3, text.byteLength + 1));
    expect(bad.action === 'deliver' ? 'delivered' : bad.reason).toBe('invalid_utf8');
    await g.shutdown();
  });

  it('depth and entries are bounded on the text, before parsing', async () => {
    const g = guard();
    const c = await open(g);
    const deep = await g.message(c, '[[[[[1]]]]]');
    expect(deep.action === 'deliver' ? 'delivered' : deep.reason).toBe('too_deep');
    const many = await g.message(c, `[${Array.from({ length: 17 }, () => 0).join(',')}]`);
    expect(many.action === 'deliver' ? 'delivered' : many.reason).toBe('too_many_keys');
    const edge = await g.message(c, '[[[[1]]]]');
    expect(edge.action).toBe('deliver');
    await g.shutdown();
  });
});
