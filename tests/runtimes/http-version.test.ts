/**
 * The handshake shape check and the HTTP version an adapter records (src/handshake/request-shape.ts): RFC 6455
 * wants HTTP/1.1 or higher. End to end on each runtime in suite.ts; here the rule itself.
 */
import { describe, expect, it } from 'vitest';
import {
  checkHandshake,
  httpVersionOf,
  setHttpVersion,
} from '../../src/handshake/request-shape.ts';

const handshake = () =>
  new Request('http://127.0.0.1/ws', {
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
    },
  });

describe('checkHandshake and the HTTP version', () => {
  it('refuses HTTP/1.0 and older with 400, recorded or passed', () => {
    for (const version of ['1.0', '0.9', '1', '0', 'garbage', '']) {
      expect(checkHandshake(handshake(), version)?.status, version).toBe(400);
      const r = handshake();
      setHttpVersion(r, version);
      expect(httpVersionOf(r)).toBe(version);
      expect(checkHandshake(r)?.status, `recorded ${version}`).toBe(400);
    }
  });

  it('accepts HTTP/1.1 and higher', () => {
    for (const version of ['1.1', '1.2', '2', '2.0', '3']) {
      expect(checkHandshake(handshake(), version), version).toBeUndefined();
      const r = handshake();
      setHttpVersion(r, version);
      expect(checkHandshake(r), `recorded ${version}`).toBeUndefined();
    }
  });

  it('does not check the version where the adapter could not tell (existing callers)', () => {
    expect(httpVersionOf(handshake())).toBeUndefined();
    expect(checkHandshake(handshake())).toBeUndefined();
  });

  it('still checks the shape first', () => {
    const r = new Request('http://127.0.0.1/ws', { method: 'POST' });
    expect(checkHandshake(r, '1.1')?.status).toBe(400);
  });
});
