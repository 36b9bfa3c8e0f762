/**
 * Origin allowlists against cross-site WebSocket hijacking. Browsers always send `Origin` on a
 * WebSocket handshake and scripts cannot forge it, so an exact match of scheme, host and port is
 * what stops another site's page from opening an authenticated socket with the victim's cookies.
 *
 * Matching is on the parsed tuple, never on substrings: `https://app.example.com.evil.io` and
 * `https://evil-app.example.com` do not match `https://app.example.com`.
 *
 * @module
 */

/** What to do with a handshake that carries no `Origin` header, or `Origin: null`. */
export type OriginPolicy = 'allow' | 'deny';

/** Options for {@link createOriginMatcher}. */
export interface OriginOptions {
  /**
   * Allowed origins: exact (`https://app.example.com`, `http://localhost:5173`) or one-label
   * wildcards (`https://*.example.com`, which matches `https://a.example.com` but neither
   * `https://example.com` nor `https://a.b.example.com`). Must not be empty.
   */
  readonly allow: readonly string[];
  /**
   * Handshakes without `Origin` come from non-browser clients, which can send any header they
   * like, so refusing them adds no protection against hijacking; they still need credentials.
   * @default 'allow'
   */
  readonly missing?: OriginPolicy;
  /**
   * `Origin: null` comes from sandboxed iframes, `file:` pages and some redirects: any site can
   * produce it, so it is refused unless asked for.
   * @default 'deny'
   */
  readonly null?: OriginPolicy;
  /**
   * Accept every origin. Only for public, unauthenticated sockets: it disables the hijacking
   * protection entirely.
   * @default false
   */
  readonly dangerouslyAllowAnyOrigin?: boolean;
}

/** A compiled allowlist. */
export interface OriginMatcher {
  /** Whether a handshake with this `Origin` header value (or `null` when absent) may proceed. */
  check(origin: string | null): boolean;
}

/** A parsed origin: lower-case scheme and host, explicit port. */
interface Tuple {
  scheme: string;
  host: string;
  port: number;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

// Linear-time by construction: no nested or overlapping quantifiers. Hosts are DNS names (IDNs
// arrive in punycode from browsers), IPv4, or bracketed IPv6.
const ORIGIN_RE =
  /^([a-z][a-z0-9+.-]{0,15}):\/\/(\[[0-9a-f:.]{2,45}\]|[a-z0-9_.-]{1,253})(?::(\d{1,5}))?$/i;

/**
 * Parse a serialized origin exactly: `scheme://host[:port]` and nothing else (no path, userinfo,
 * query, trailing slash or whitespace). Returns `undefined` for anything else.
 */
function parseOrigin(value: string, allowWildcard: boolean): Tuple | undefined {
  let text = value;
  let wildcard = false;
  if (allowWildcard) {
    const at = text.indexOf('://*.');
    if (at !== -1) {
      wildcard = true;
      text = `${text.slice(0, at + 3)}${text.slice(at + 5)}`;
    }
  }
  const m = ORIGIN_RE.exec(text);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const host = m[2]!.toLowerCase();
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) return undefined;
  // Empty labels ("a..b", leading or trailing dot) are distinct origins to a browser; refuse them.
  if (
    !host.startsWith('[') &&
    (host.startsWith('.') || host.endsWith('.') || host.includes('..'))
  ) {
    return undefined;
  }
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { scheme, host: wildcard ? `*.${host}` : host, port };
}

/**
 * Validate an allowlist, returning one problem per bad entry (empty when all are fine). Used by
 * the start-up doctor, so that a typo is a start-up error, never "allow all".
 */
export function validateOrigins(allow: readonly unknown[]): string[] {
  const problems: string[] = [];
  for (const entry of allow) {
    if (typeof entry !== 'string') {
      problems.push(`origins: ${JSON.stringify(entry)} is not a string`);
    } else if (entry === '*') {
      problems.push(
        "origins: '*' allows every site to open sockets with your users' credentials; list your origins, or set dangerouslyAllowAnyOrigin: true for a public socket",
      );
    } else if (!parseOrigin(entry, true)) {
      problems.push(
        `origins: ${JSON.stringify(entry)} is not an origin; write scheme://host[:port] with no path or trailing slash, e.g. "https://app.example.com"`,
      );
    } else if (entry.includes('*') && !/^[a-z]+:\/\/\*\.[^*]+$/i.test(entry)) {
      problems.push(
        `origins: ${JSON.stringify(entry)}: a wildcard may only be the first label, as in "https://*.example.com"`,
      );
    } else if (
      entry.includes('*') &&
      !/^[a-z]+:\/\/\*\.(localhost|[^.:*]+\.[^:*]+)(:\d+)?$/i.test(entry)
    ) {
      // "*.com" would admit every site under a top-level domain.
      problems.push(
        `origins: ${JSON.stringify(entry)}: a wildcard needs a registrable base of at least two labels, as in "https://*.example.com"`,
      );
    }
  }
  return problems;
}

/**
 * Compile an allowlist. Throws `TypeError` on an invalid list; `createGuard` validates first and
 * reports every problem at once.
 *
 * @example
 * ```ts
 * const origins = createOriginMatcher({ allow: ['https://app.example.com', 'https://*.example.com'] });
 * origins.check('https://app.example.com'); // true
 * origins.check('https://app.example.com.evil.io'); // false
 * ```
 */
export function createOriginMatcher(options: OriginOptions): OriginMatcher {
  const missing = options.missing ?? 'allow';
  const nullPolicy = options.null ?? 'deny';
  if (options.dangerouslyAllowAnyOrigin) {
    return { check: (origin) => (origin === null ? missing === 'allow' : true) };
  }
  const problems = validateOrigins(options.allow);
  if (options.allow.length === 0) problems.push('origins: the allowlist is empty');
  if (problems.length > 0) throw new TypeError(problems.join('; '));

  const exact = new Set<string>();
  // Wildcards grouped by "scheme|port" so a check costs one Map lookup plus one Set lookup.
  const wildcards = new Map<string, Set<string>>();
  for (const entry of options.allow) {
    const t = parseOrigin(entry, true)!;
    if (t.host.startsWith('*.')) {
      const k = `${t.scheme}|${t.port}`;
      const set = wildcards.get(k) ?? new Set<string>();
      set.add(t.host.slice(2));
      wildcards.set(k, set);
    } else {
      exact.add(`${t.scheme}://${t.host}:${t.port}`);
    }
  }

  return {
    check(origin: string | null): boolean {
      if (origin === null) return missing === 'allow';
      if (origin === 'null') return nullPolicy === 'allow';
      if (origin.length > 300) return false;
      const t = parseOrigin(origin, false);
      if (!t) return false;
      if (exact.has(`${t.scheme}://${t.host}:${t.port}`)) return true;
      const bases = wildcards.get(`${t.scheme}|${t.port}`);
      if (!bases || t.host.startsWith('[')) return false;
      const dot = t.host.indexOf('.');
      // Exactly one label in front of the base: "a.example.com", never "a.b.example.com".
      return dot > 0 && bases.has(t.host.slice(dot + 1));
    },
  };
}
