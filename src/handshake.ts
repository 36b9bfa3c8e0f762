/**
 * The shape of a WebSocket opening handshake (RFC 6455 §4.2.1), checked before the guard runs.
 * Runtimes refuse a malformed handshake only after the upgrade hook has said yes (`ws` answers
 * 400, Bun's `server.upgrade` returns false, `Deno.upgradeWebSocket` throws), which would spend a
 * one-time ticket and take a connection cap for a socket that never opens.
 *
 * @module
 */

const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;

function hasToken(value: string | null, token: string): boolean {
  if (value === null || value.length > 1024) return false;
  // The common case, a header that is just the token (`Upgrade: websocket`), without a split.
  if (value.length === token.length) return value.toLowerCase() === token;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** Whether `request` asks for a WebSocket (`Upgrade: websocket`); adapters route on it. */
export function isWebSocketRequest(request: Request): boolean {
  return hasToken(request.headers.get('upgrade'), 'websocket');
}

/**
 * `undefined` when `request` is a well-formed WebSocket handshake; otherwise the response to send
 * (400, or 426 with the supported version).
 */
export function checkHandshake(request: Request): Response | undefined {
  const h = request.headers;
  const bad = (status: number, message: string, headers: Record<string, string> = {}) =>
    new Response(message, {
      status,
      headers: { 'content-type': 'text/plain; charset=utf-8', connection: 'close', ...headers },
    });
  if (request.method !== 'GET') return bad(400, 'bad handshake');
  if (!hasToken(h.get('upgrade'), 'websocket') || !hasToken(h.get('connection'), 'upgrade'))
    return bad(400, 'bad handshake');
  if (!KEY_RE.test(h.get('sec-websocket-key')?.trim() ?? '')) return bad(400, 'bad handshake');
  if (h.get('sec-websocket-version')?.trim() !== '13')
    return bad(426, 'unsupported version', { 'sec-websocket-version': '13' });
  return undefined;
}
