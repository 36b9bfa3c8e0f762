/**
 * Fuzz: the handshake shape check (RFC 6455 §4.2.1) against a reference written from the RFC.
 *
 * Requests have each required header present or absent, valid or mutated (case, token lists,
 * whitespace, look-alike tokens, keys of the wrong length or alphabet, other versions, repeated
 * headers), and any method. Oracles:
 * - a request passes exactly when the reference says it is a WebSocket handshake: GET, an
 *   `Upgrade` list holding `websocket`, a `Connection` list holding `upgrade` (case-insensitive,
 *   values of at most 1 KiB), a `Sec-WebSocket-Key` that base64-decodes to 16 bytes, and
 *   `Sec-WebSocket-Version: 13`; so none missing a required header ever passes;
 * - a refusal is 426 with `Sec-WebSocket-Version: 13` when only the version is wrong, else 400;
 * - it never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHandshake } from '../../src/mod.ts';
import { fuzz, timeoutOf } from './fuzz.ts';

const VALID_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Header values, from valid to subtly wrong. */
const upgradeValue = fc.constantFrom(
  'websocket',
  'WebSocket',
  'WEBSOCKET',
  'h2c, websocket',
  'websocket, h2c',
  ' websocket ',
  'websockets',
  'web socket',
  'websocket;q=1',
  'h2c',
  '',
  ',',
  'x'.repeat(1020) + ', websocket',
  'websocket\u00a0',
);
const connectionValue = fc.constantFrom(
  'Upgrade',
  'upgrade',
  'keep-alive, Upgrade',
  'Upgrade, keep-alive',
  'keep-alive',
  'upgrades',
  'close',
  '',
  'up grade',
  'x'.repeat(1020) + ', upgrade',
);
const keyValue = fc.oneof(
  fc.constantFrom(
    VALID_KEY,
    ` ${VALID_KEY} `,
    VALID_KEY.slice(0, -2),
    `${VALID_KEY}=`,
    VALID_KEY.replace('d', '-'),
    VALID_KEY.replace('d', '_'),
    'AAAAAAAAAAAAAAAAAAAAAA==',
    'AAAAAAAAAAAAAAAAAAAAAAA=',
    'AAAAAAAAAAAAAAAAAAAAAAAA',
    '',
  ),
  fc.uint8Array({ minLength: 0, maxLength: 20 }).map((b) => Buffer.from(b).toString('base64')),
  fc.stringMatching(/^[A-Za-z0-9+/=_-]{20,26}$/),
);
const versionValue = fc.constantFrom('13', ' 13 ', '8', '13, 8', '', '013', '1 3', '14');

interface Spec {
  readonly method: string;
  readonly upgrade: string | undefined;
  readonly connection: string | undefined;
  readonly key: string | undefined;
  readonly version: string | undefined;
}

const randomSpec: fc.Arbitrary<Spec> = fc.record({
  method: fc.constantFrom('GET', 'get', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'PATCH'),
  upgrade: fc.option(upgradeValue, { nil: undefined, freq: 5 }),
  connection: fc.option(connectionValue, { nil: undefined, freq: 5 }),
  key: fc.option(keyValue, { nil: undefined, freq: 5 }),
  version: fc.option(versionValue, { nil: undefined, freq: 5 }),
});

const VALID: Spec = {
  method: 'GET',
  upgrade: 'websocket',
  connection: 'Upgrade',
  key: VALID_KEY,
  version: '13',
};

/** A valid handshake with up to two fields taken from a random one (removed or mutated). */
const nearValidSpec: fc.Arbitrary<Spec> = fc
  .tuple(
    randomSpec,
    fc.uniqueArray(
      fc.constantFrom<keyof Spec>('method', 'upgrade', 'connection', 'key', 'version'),
      {
        maxLength: 2,
      },
    ),
  )
  .map(([other, swaps]) => {
    const spec: Record<string, string | undefined> = { ...VALID };
    for (const k of swaps) spec[k] = other[k];
    return spec as unknown as Spec;
  });

const specArb: fc.Arbitrary<Spec> = fc.oneof(randomSpec, nearValidSpec);

/** Whether a comma-separated header value holds `token` (case-insensitive, at most 1 KiB). */
function listHas(value: string | null, token: string): boolean {
  if (value === null || value.length > 1024) return false;
  return value.split(',').some((p) => p.trim().toLowerCase() === token);
}

/** A key is the base64 of 16 bytes: 24 characters of the base64 alphabet, decoding to 16. */
function validKey(value: string | null): boolean {
  const k = value?.trim() ?? '';
  if (k.length !== 24 || !/^[A-Za-z0-9+/=]+$/.test(k)) return false;
  try {
    return atob(k).length === 16;
  } catch {
    return false;
  }
}

/** The RFC's reading of the request as the runtime hands it over (after `Headers` normalized it). */
function reference(request: Request): { ok: true } | { ok: false; status: 400 | 426 } {
  const h = request.headers;
  const shape =
    request.method === 'GET' &&
    listHas(h.get('upgrade'), 'websocket') &&
    listHas(h.get('connection'), 'upgrade') &&
    validKey(h.get('sec-websocket-key'));
  if (!shape) return { ok: false, status: 400 };
  if (h.get('sec-websocket-version')?.trim() !== '13') return { ok: false, status: 426 };
  return { ok: true };
}

function requestOf(spec: Spec, repeat: string | undefined): Request {
  const headers = new Headers();
  if (spec.upgrade !== undefined) headers.set('upgrade', spec.upgrade);
  if (spec.connection !== undefined) headers.set('connection', spec.connection);
  if (spec.key !== undefined) headers.set('sec-websocket-key', spec.key);
  if (spec.version !== undefined) headers.set('sec-websocket-version', spec.version);
  // A repeated header arrives joined with ", ".
  if (repeat !== undefined && headers.has(repeat)) headers.append(repeat, 'x');
  return new Request('http://localhost/ws', { method: spec.method, headers });
}

describe('fuzz: the handshake shape check', () => {
  it(
    'passes exactly the requests the RFC reference passes, and refuses with the right status',
    async () => {
      let passed = 0;
      await fuzz(
        'checkHandshake',
        fc.property(
          specArb,
          fc.option(
            fc.constantFrom('upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version'),
            {
              nil: undefined,
              freq: 3,
            },
          ),
          (spec, repeat) => {
            const request = requestOf(spec, repeat);
            const want = reference(request);
            const got = checkHandshake(request);
            if (want.ok) {
              expect(got).toBeUndefined();
              passed++;
              // Every required header is there: none missing ever passes.
              for (const name of [
                'upgrade',
                'connection',
                'sec-websocket-key',
                'sec-websocket-version',
              ])
                expect(request.headers.has(name)).toBe(true);
            } else {
              expect(got, JSON.stringify(spec)).toBeInstanceOf(Response);
              expect(got!.status).toBe(want.status);
              if (want.status === 426) expect(got!.headers.get('sec-websocket-version')).toBe('13');
            }
          },
        ),
        { weight: 20, msPerRun: 0.3 },
      );
      // The generator reaches valid handshakes too, so "never passes" is not vacuous.
      expect(passed).toBeGreaterThan(0);
    },
    timeoutOf({ weight: 20, msPerRun: 0.3 }),
  );
});
