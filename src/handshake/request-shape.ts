/**
 * The shape of a WebSocket opening handshake (RFC 6455 §4.2.1), checked before the guard runs.
 * Runtimes refuse a malformed handshake only after the upgrade hook has said yes (`ws` answers
 * 400, Bun's `server.upgrade` returns false, `Deno.upgradeWebSocket` throws), which would spend a
 * one-time ticket and take a connection cap for a socket that never opens.
 *
 * RFC 6455 requires HTTP/1.1 or higher, but a fetch `Request` carries no HTTP version: an adapter
 * that knows it records it with {@link setHttpVersion} (Node: `req.httpVersion`; Deno: its front
 * reads the request line) and the check refuses anything older. Where the runtime does not tell
 * (Bun, Deno without the front), the version is not checked (docs/adapters.md).
 *
 * @module
 */

const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;
const VERSION_RE = /^(\d{1,3})(?:\.(\d{1,3}))?$/;

/** Where an adapter keeps a handshake's HTTP version: on the request, which dies with it. */
const HTTP_VERSION = Symbol('wsguard.httpVersion');
type VersionSlot = { [HTTP_VERSION]?: string };

/** Record the HTTP version of a request's request line (`'1.1'`, `'1.0'`, `'2'`). Adapters call it. */
export function setHttpVersion(request: Request, version: string): void {
  (request as VersionSlot)[HTTP_VERSION] = version;
}

/** The HTTP version an adapter recorded for `request`, or `undefined` when it could not tell. */
export function httpVersionOf(request: Request): string | undefined {
  return (request as VersionSlot)[HTTP_VERSION];
}

/** HTTP/1.1 or higher; a version that does not parse is not (fail closed). */
function atLeastHttp11(version: string): boolean {
  const m = VERSION_RE.exec(version.trim());
  if (!m) return false;
  const major = Number(m[1]);
  return major > 1 || (major === 1 && Number(m[2] ?? 0) >= 1);
}

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
 * (400, or 426 with the supported version). `httpVersion` defaults to what the adapter recorded
 * with {@link setHttpVersion}; when neither says, the version is not checked.
 */
export function checkHandshake(
  request: Request,
  httpVersion: string | undefined = httpVersionOf(request),
): Response | undefined {
  const h = request.headers;
  const bad = (status: number, message: string, headers: Record<string, string> = {}) =>
    new Response(message, {
      status,
      headers: { 'content-type': 'text/plain; charset=utf-8', connection: 'close', ...headers },
    });
  if (request.method !== 'GET') return bad(400, 'bad handshake');
  if (httpVersion !== undefined && !atLeastHttp11(httpVersion)) return bad(400, 'bad handshake');
  if (!hasToken(h.get('upgrade'), 'websocket') || !hasToken(h.get('connection'), 'upgrade'))
    return bad(400, 'bad handshake');
  if (!KEY_RE.test(h.get('sec-websocket-key')?.trim() ?? '')) return bad(400, 'bad handshake');
  if (h.get('sec-websocket-version')?.trim() !== '13')
    return bad(426, 'unsupported version', { 'sec-websocket-version': '13' });
  return undefined;
}
