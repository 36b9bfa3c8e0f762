/**
 * Redaction: tokens and tickets never reach a log. URLs lose the values of credential-bearing
 * query parameters, and any string that looks like a JWT is masked wherever it appears.
 *
 * @module
 */

/** Query parameters whose values are always masked. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set([
  'ticket',
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'csrf',
  'jwt',
  'auth',
  'authorization',
  'key',
  'api_key',
  'apikey',
  'password',
  'secret',
  'code',
  'session',
]);

const MASK = '[redacted]';
// Three base64url segments with a JSON header ("eyJ" is base64 of '{"'): a JWS compact token.
const JWT_RE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

/** Mask JWT-shaped substrings. */
export function redactString(value: string): string {
  return value.includes('eyJ') ? value.replace(JWT_RE, MASK) : value;
}

/** One `name=value` pair, its value masked when the (decoded, lower-cased) name is secret. */
function maskPair(pair: string, extra: readonly string[]): string {
  const eq = pair.indexOf('=');
  if (eq === -1) return pair;
  const raw = pair.slice(0, eq);
  let name = raw;
  // Only an escape changes a name when decoded: most names skip the (throwing) decoder.
  if (raw.includes('%')) {
    try {
      name = decodeURIComponent(raw);
    } catch {
      return `${raw}=${MASK}`;
    }
  }
  name = name.toLowerCase();
  return SECRET_PARAMS.has(name) || extra.includes(name) ? `${raw}=${MASK}` : pair;
}

/**
 * Mask secret query values in a URL or path (`/ws?ticket=abc` → `/ws?ticket=[redacted]`),
 * including parameters named by the caller (e.g. a custom ticket parameter). The fragment is
 * dropped. One pass over the query: it runs on every handshake.
 */
export function redactUrl(url: string, extra: readonly string[] = []): string {
  const q = url.indexOf('?');
  if (q === -1) return redactString(url);
  const hash = url.indexOf('#', q);
  const end = hash === -1 ? url.length : hash;
  let out = url.slice(0, q + 1);
  for (let start = q + 1; ; ) {
    let amp = url.indexOf('&', start);
    if (amp === -1 || amp > end) amp = end;
    out += maskPair(url.slice(start, amp), extra);
    if (amp >= end) break;
    out += '&';
    start = amp + 1;
  }
  return redactString(out);
}
