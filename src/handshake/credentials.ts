/**
 * Where a credential comes from: `?ticket=`, `?token=`, `Authorization: Bearer`, a named cookie,
 * a `Sec-WebSocket-Protocol` entry, or the first message (tRPC `connectionParams`). Each source is
 * switched on by name. Header parsing is hand-written on purpose: it scans each value once with
 * no regular expressions (linear time on hostile input) and never builds objects keyed by
 * attacker-chosen names (prototype-safe).
 *
 * @module
 */

/** Whether a credential is a one-time ticket or a bearer token (JWT). */
export type CredentialKind = 'ticket' | 'token';

/** Where a credential was found. */
export type CredentialSource = 'query' | 'header' | 'cookie' | 'subprotocol' | 'first-message';

/** A credential taken from a handshake or first message. `value` is secret: never log it. */
export interface Credential {
  /** Ticket or token. */
  readonly kind: CredentialKind;
  /** Where it came from. */
  readonly source: CredentialSource;
  /** The secret itself. */
  readonly value: string;
}

/** CSRF check for cookie authentication (like Phoenix's `check_csrf`). */
export interface CsrfOptions {
  /**
   * Query parameter carrying the page's CSRF token; a `Sec-WebSocket-Protocol` entry
   * `csrf.<token>` works too.
   * @default 'csrf'
   */
  readonly param?: string;
  /** Whether `token` is valid for the session in `cookie`. Compare in constant time. */
  readonly verify: (token: string, cookie: string) => boolean | Promise<boolean>;
}

/** Cookie source options. */
export interface CookieSourceOptions {
  /** Cookie name. */
  readonly name: string;
  /**
   * A session-bound token from the page, presented in the handshake, so that a hijacked browser
   * socket cannot authenticate by cookie alone. Required unless `dangerouslyWithoutCsrf`.
   */
  readonly csrf?: CsrfOptions;
  /**
   * Skip the CSRF check; the origin allowlist is then the only defence against hijacking.
   * @default false
   */
  readonly dangerouslyWithoutCsrf?: boolean;
}

/** First-message authentication options. */
export interface FirstMessageOptions {
  /**
   * Close with 4001 when no credential message arrives within this time.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Take the credential out of the first parsed message. The default reads tRPC's
   * `{"method":"connectionParams","data":{"token"|"ticket":…}}` and `{"type":"auth","token"|"ticket":…}`.
   */
  readonly extract?: (message: unknown) => { kind: CredentialKind; value: string } | undefined;
}

/** Which credential sources are on. Everything is off unless named. */
export interface CredentialSources {
  /**
   * One-time ticket in the query string.
   * @default { param: 'ticket' } when tickets are configured
   */
  readonly ticket?: boolean | { readonly param?: string };
  /**
   * JWT in the query string. Query strings end up in proxy logs: prefer tickets.
   * @default false
   */
  readonly query?: boolean | { readonly param?: string };
  /**
   * `Authorization: Bearer <jwt>`; browsers cannot set it on a WebSocket, other clients can.
   * @default true
   */
  readonly header?: boolean;
  /** JWT in a cookie. Needs an origin allowlist and a CSRF token. */
  readonly cookie?: CookieSourceOptions;
  /**
   * JWT in a `Sec-WebSocket-Protocol` entry `<prefix><jwt>`. The server echoes the first other
   * entry, so the client must offer one (for example `['wsguard', 'bearer.<jwt>']`).
   * @default false
   */
  readonly subprotocol?: boolean | { readonly prefix?: string };
  /** Credential in the first message (tRPC `connectionParams`). */
  readonly firstMessage?: boolean | FirstMessageOptions;
}

/** Longest subprotocol the server will echo. */
const MAX_PROTOCOL_LENGTH = 64;
// RFC 6455 protocol names are HTTP tokens; a plain subset is enough for echoing.
const PROTOCOL_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Longest credential accepted; anything longer is refused before any parsing. */
export const MAX_CREDENTIAL_LENGTH = 8192;

/** The compiled credential extractor. */
export interface CredentialExtractor {
  /** Find a credential in a handshake; `undefined` when none of the enabled sources has one. */
  fromRequest(request: Request, url: URL): Credential | undefined;
  /** The subprotocol the server should echo: the first offered entry that is not a secret. */
  selectProtocol(request: Request): string | undefined;
  /** CSRF token from the handshake (query or subprotocol), when cookie auth is on. */
  csrfToken(request: Request, url: URL): string | undefined;
  /** Credential from a parsed first message. */
  fromMessage(message: unknown): Credential | undefined;
  /** Whether first-message auth is enabled. */
  readonly firstMessage: boolean;
  /** First-message timeout in ms. */
  readonly firstMessageTimeoutMs: number;
}

/**
 * `url.searchParams.get(name)` without building a `URLSearchParams` when it cannot matter: with no
 * `%` and no `+` in the query, form decoding changes nothing, so the first `name=value` pair is
 * found by splitting alone (same rules: `&`-separated, empty pairs skipped, a pair without `=` has
 * the value `''`). Anything with an escape goes through `URLSearchParams`. It runs per handshake.
 */
export function queryParam(url: URL, name: string): string | null {
  const search = url.search;
  if (search.length <= 1) return null;
  if (search.includes('%') || search.includes('+')) return url.searchParams.get(name);
  for (let start = 1; start <= search.length; ) {
    let end = search.indexOf('&', start);
    if (end === -1) end = search.length;
    if (end > start) {
      const eq = search.indexOf('=', start);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      if (search.slice(start, nameEnd) === name) return search.slice(nameEnd + 1, end); // '' when there is no '='
    }
    start = end + 1;
  }
  return null;
}

function paramName(
  opt: boolean | { readonly param?: string } | undefined,
  fallback: string,
): string | undefined {
  if (!opt) return undefined;
  return typeof opt === 'object' && opt.param ? opt.param : fallback;
}

/**
 * Read one cookie by name from a `Cookie` header in a single pass. Duplicate names: the first
 * wins, as in browsers' own ordering (most specific path first).
 */
export function readCookie(header: string, name: string): string | undefined {
  let i = 0;
  const n = header.length;
  // The next '=' is searched again only once the scan has passed it: searching from every pair
  // would rescan the rest of the header per pair, quadratic on `a;a;a;…` without any '='.
  let eq = header.indexOf('=');
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 59)) i++;
    if (eq !== -1 && eq < i) eq = header.indexOf('=', i);
    if (eq === -1) return undefined; // no '=' left, so no name=value pair left
    let semi = header.indexOf(';', i);
    if (semi === -1) semi = n;
    if (eq !== -1 && eq < semi && header.slice(i, eq).trim() === name) {
      let value = header.slice(eq + 1, semi).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
        value = value.slice(1, -1);
      return value;
    }
    i = semi + 1;
  }
  return undefined;
}

/** Split a comma-separated header into trimmed, non-empty entries in one pass. */
export function splitList(header: string): string[] {
  const out: string[] = [];
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t) out.push(t);
  }
  return out;
}

function bearer(header: string | null): string | undefined {
  if (!header) return undefined;
  // Scheme is case-insensitive (RFC 9110); exactly one space-separated credential.
  if (header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token && !token.includes(' ') ? token : undefined;
}

function usable(value: string | null | undefined): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CREDENTIAL_LENGTH;
}

function defaultExtract(message: unknown): { kind: CredentialKind; value: string } | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const m = message as Record<string, unknown>;
  let holder: unknown;
  if (m['method'] === 'connectionParams') holder = m['data'];
  else if (m['type'] === 'auth') holder = m;
  if (typeof holder !== 'object' || holder === null) return undefined;
  const h = holder as Record<string, unknown>;
  // Own properties only: a hostile `__proto__` cannot supply a token.
  if (Object.hasOwn(h, 'ticket') && typeof h['ticket'] === 'string')
    return { kind: 'ticket', value: h['ticket'] };
  if (Object.hasOwn(h, 'token') && typeof h['token'] === 'string')
    return { kind: 'token', value: h['token'] };
  return undefined;
}

/** The `Sec-WebSocket-Protocol` prefix that marks a token, when that source is on. */
function subprotocolPrefix(option: CredentialSources['subprotocol']): string | undefined {
  if (!option) return undefined;
  return typeof option === 'object' && option.prefix ? option.prefix : 'bearer.';
}

/** The rest of the first `Sec-WebSocket-Protocol` entry that starts with `prefix`. */
function protocolAfter(request: Request, prefix: string): string | undefined {
  const raw = request.headers.get('sec-websocket-protocol');
  if (!raw) return undefined;
  for (const p of splitList(raw)) if (p.startsWith(prefix)) return p.slice(prefix.length);
  return undefined;
}

/** Compile the enabled credential sources into an extractor. */
export function createCredentialExtractor(
  sources: CredentialSources,
  ticketsEnabled: boolean,
): CredentialExtractor {
  const ticketParam = paramName(sources.ticket ?? ticketsEnabled, 'ticket');
  const queryName = paramName(sources.query, 'token');
  const header = sources.header ?? true;
  const cookie = sources.cookie;
  const csrfParam = cookie?.csrf?.param ?? 'csrf';
  const prefix = subprotocolPrefix(sources.subprotocol);
  const first = sources.firstMessage;
  const firstOptions: FirstMessageOptions = typeof first === 'object' ? first : {};
  const extract = firstOptions.extract ?? defaultExtract;

  // Never echo what may be a credential (whether or not that source is on) or anything that is not
  // a short protocol token: the echo is visible to the page and to every proxy in between.
  const isSecretProtocol = (p: string): boolean =>
    (prefix !== undefined && p.startsWith(prefix)) ||
    p.startsWith('bearer.') ||
    p.startsWith('csrf.') ||
    p.length > MAX_PROTOCOL_LENGTH ||
    !PROTOCOL_RE.test(p);

  return {
    firstMessage: Boolean(first),
    firstMessageTimeoutMs: firstOptions.timeoutMs ?? 5000,

    fromRequest(request: Request, url: URL): Credential | undefined {
      if (ticketParam) {
        const v = queryParam(url, ticketParam);
        if (v !== null) return { kind: 'ticket', source: 'query', value: v };
      }
      if (header) {
        const v = bearer(request.headers.get('authorization'));
        if (v !== undefined) return { kind: 'token', source: 'header', value: v };
      }
      if (prefix !== undefined) {
        const v = protocolAfter(request, prefix);
        if (v !== undefined) return { kind: 'token', source: 'subprotocol', value: v };
      }
      if (queryName) {
        const v = queryParam(url, queryName);
        if (v !== null) return { kind: 'token', source: 'query', value: v };
      }
      if (cookie) {
        const raw = request.headers.get('cookie');
        const v = raw ? readCookie(raw, cookie.name) : undefined;
        if (v !== undefined) return { kind: 'token', source: 'cookie', value: v };
      }
      return undefined;
    },

    selectProtocol(request: Request): string | undefined {
      const raw = request.headers.get('sec-websocket-protocol');
      if (!raw) return undefined;
      for (const p of splitList(raw)) if (!isSecretProtocol(p)) return p;
      return undefined;
    },

    csrfToken(request: Request, url: URL): string | undefined {
      const q = queryParam(url, csrfParam);
      if (q !== null) return q;
      return protocolAfter(request, 'csrf.');
    },

    fromMessage(message: unknown): Credential | undefined {
      const found = extract(message);
      if (!found || !usable(found.value)) return undefined;
      return { kind: found.kind, source: 'first-message', value: found.value };
    },
  };
}

/** Whether a credential value is within the accepted size (longer ones are refused unparsed). */
export function isUsableCredential(value: string): boolean {
  return usable(value);
}
