/**
 * `redactUrl` is on every handshake's path, so it was rewritten as one pass over the query. The
 * earlier, obviously-correct version (split, decode every name, join) is kept here as the
 * reference: on generated URLs (escapes, malformed escapes, fragments, empty pairs, mixed case,
 * secret and custom names, JWT-shaped values) both must give the same string, and no secret value
 * may survive.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactString, redactUrl, SECRET_PARAMS } from '../../../src/observability/redact.ts';

const MASK = '[redacted]';
function reference(url: string, extra: readonly string[] = []): string {
  const q = url.indexOf('?');
  if (q === -1) return redactString(url);
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash === -1 ? undefined : hash);
  const parts = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq === -1) return pair;
    let name: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq)).toLowerCase();
    } catch {
      return `${pair.slice(0, eq)}=${MASK}`;
    }
    return SECRET_PARAMS.has(name) || extra.includes(name) ? `${pair.slice(0, eq)}=${MASK}` : pair;
  });
  return redactString(`${url.slice(0, q)}?${parts.join('&')}`);
}

const name = fc.oneof(
  fc.constantFrom(
    'ticket',
    'TOKEN',
    'Access_Token',
    'tk',
    'room',
    'a',
    '',
    't%69cket',
    '%E0%A4%A',
    '%zz',
    'x%20y',
  ),
  fc.string({ maxLength: 6 }),
);
const value = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'secret-value', '', '=', 'a=b'),
);
const pair = fc.oneof(
  fc.tuple(name, value).map(([n, v]) => `${n}=${v}`),
  name,
);
const url = fc
  .tuple(
    fc.constantFrom('/ws', '/', '', '/a/b', '/eyJhbGciOi.eyJzdWIi.sig'),
    fc.boolean(),
    fc.array(pair, { maxLength: 6 }),
    fc.option(fc.constantFrom('#frag', '#a&ticket=x', '#'), { nil: undefined }),
  )
  .map(([path, q, pairs, hash]) => `${path}${q ? `?${pairs.join('&')}` : ''}${hash ?? ''}`);

describe('redactUrl', () => {
  it('matches the reference implementation on generated URLs', () => {
    fc.assert(
      fc.property(url, fc.constantFrom<string[]>([], ['tk'], ['room', 'x y']), (u, extra) => {
        expect(redactUrl(u, extra)).toBe(reference(u, extra));
      }),
      { numRuns: 5000 },
    );
  });

  it('masks secret values, custom names and escaped names, and drops the fragment', () => {
    expect(redactUrl('/ws?ticket=abc&room=1')).toBe('/ws?ticket=[redacted]&room=1');
    expect(redactUrl('/ws?TiCkEt=abc')).toBe('/ws?TiCkEt=[redacted]');
    expect(redactUrl('/ws?t%69cket=abc')).toBe('/ws?t%69cket=[redacted]');
    expect(redactUrl('/ws?%zz=abc')).toBe('/ws?%zz=[redacted]');
    expect(redactUrl('/ws?tk=abc', ['tk'])).toBe('/ws?tk=[redacted]');
    expect(redactUrl('/ws?room=1#ticket=abc')).toBe('/ws?room=1');
    expect(redactUrl('/ws?x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe('/ws?x=[redacted]');
    expect(redactUrl('/ws')).toBe('/ws');
    expect(redactUrl('/ws?')).toBe('/ws?');
  });
});
