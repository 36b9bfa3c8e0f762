/**
 * `visitCallIds`, the reader that finds the call ids of a refused frame without parsing it: on
 * well-formed frames it finds exactly the ids a `JSON.parse` of the frame would give (a property
 * test against that reference), it stops when told, and hostile shapes (deep nesting, huge
 * strings, escapes, duplicate keys) neither throw nor recurse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CallId, visitCallIds } from '../../src/trpc/call-ids.ts';

/** The reference: what the bridge answered before, from a full parse. */
function reference(text: string): CallId[] {
  const value = JSON.parse(text) as unknown;
  const calls = Array.isArray(value) ? value : [value];
  const out: CallId[] = [];
  for (const m of calls) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const { id, method, jsonrpc } = m as { id?: unknown; method?: unknown; jsonrpc?: unknown };
    if (method !== 'query' && method !== 'mutation' && method !== 'subscription') continue;
    if (
      (typeof id === 'number' && Number.isFinite(id)) ||
      (typeof id === 'string' && id.length <= 256)
    )
      out.push({ id, jsonrpc: jsonrpc === '2.0' ? '2.0' : undefined });
  }
  return out;
}

function all(text: string): { ids: CallId[]; end: string } {
  const ids: CallId[] = [];
  const end = visitCallIds(text, (c) => {
    ids.push(c);
    return true;
  });
  return { ids, end };
}

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const callLike = fc.record(
  {
    id: fc.oneof(fc.integer(), fc.double(), fc.string({ unit: 'binary', maxLength: 300 }), json),
    method: fc.oneof(
      fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop', 'connectionParams'),
      json,
    ),
    jsonrpc: fc.oneof(fc.constant('2.0'), json),
    params: json,
    extra: json,
  },
  { requiredKeys: [] },
);

describe('visitCallIds', () => {
  it('finds exactly the ids a full parse finds, in order, on generated frames', () => {
    fc.assert(
      fc.property(
        fc.oneof(callLike, fc.array(fc.oneof(callLike, json), { maxLength: 12 })),
        fc.boolean(),
        (frame, spaced) => {
          const text = spaced ? JSON.stringify(frame, null, 1) : JSON.stringify(frame);
          const got = all(text);
          expect(got.end).toBe('end');
          expect(got.ids).toEqual(reference(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('decodes escaped keys and takes the last of a duplicated key, as JSON.parse does', () => {
    const text =
      '[{"\\u0069d":7,"method":"qu\\u0065ry"},{"id":1,"id":2,"method":"query","method":"x"},{"id":3,"method":"x","method":"mutation","jsonrpc":"2.0"}]';
    expect(all(text).ids).toEqual(reference(text));
    expect(all(text).ids).toEqual([
      { id: 7, jsonrpc: undefined },
      { id: 3, jsonrpc: '2.0' },
    ]);
  });

  it('stops when the visitor says so, and reports it', () => {
    const text = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i, method: 'query' })));
    let seen = 0;
    expect(visitCallIds(text, () => ++seen < 3)).toBe('stopped');
    expect(seen).toBe(3);
  });

  it('reads no further than the last id it needed: a malformed tail after it is never reached', () => {
    const head = Array.from({ length: 5 }, (_, i) => JSON.stringify({ id: i, method: 'query' }));
    const text = `[${head.join(',')},{"id":99,"method":"query","params":${'{"x":'.repeat(1000)}`;
    let seen = 0;
    expect(visitCallIds(text, () => ++seen < 5)).toBe('stopped');
    expect(all(text).end).toBe('malformed');
  });

  it('survives hostile shapes without throwing or recursing', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(all(deep)).toEqual({ ids: [], end: 'end' });
    const deepInCall = `{"id":1,"params":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},"method":"query"}`;
    expect(all(deepInCall).ids).toEqual([{ id: 1, jsonrpc: undefined }]);
    const hugeId = `{"id":"${'x'.repeat(50_000)}","method":"query"}`;
    expect(all(hugeId).ids).toEqual([]);
    const backslashes = `{"id":"${'\\\\'.repeat(1000)}","method":"query"}`;
    expect(all(backslashes).ids).toEqual(reference(backslashes));
    for (const bad of [
      '',
      '{',
      '[',
      '{"id":1,',
      '{"id"}',
      '[1,,2]',
      '"abc',
      '{"id":1 "method":"query"}',
    ]) {
      expect(() => all(bad)).not.toThrow();
      expect(all(bad)).toEqual({ ids: [], end: 'malformed' });
    }
    // A call is reported once its object has closed, even if the frame breaks after it.
    expect(all('[{"id":1,"method":"query"},{"id":2,')).toEqual({
      ids: [{ id: 1, jsonrpc: undefined }],
      end: 'malformed',
    });
  });
});
