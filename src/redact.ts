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

/**
 * Mask secret query values in a URL or path (`/ws?ticket=abc` → `/ws?ticket=[redacted]`),
 * including parameters named by the caller (e.g. a custom ticket parameter).
 */
export function redactUrl(url: string, extra: readonly string[] = []): string {
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
