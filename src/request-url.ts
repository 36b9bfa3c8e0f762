/**
 * One parse of a handshake's URL. crossws parses `request.url` to name the peer's namespace, the
 * hooks to match `path`, and the guard to read the path and query: three WHATWG parses of the
 * same string per handshake. Each is the same `new URL(request.url)`, so the first one is kept
 * (per request object, weakly) and the others reuse it.
 *
 * @module
 */

const parsed = new WeakMap<Request, URL | null>();

/** `new URL(request.url)`, parsed once per request; `undefined` when it does not parse. */
export function requestUrl(request: Request): URL | undefined {
  let url = parsed.get(request);
  if (url === undefined) {
    url = URL.canParse(request.url) ? new URL(request.url) : null;
    parsed.set(request, url);
  }
  return url ?? undefined;
}

/**
 * crossws's `getNamespace`: the path, as crossws computes it by default (`new URL(url).pathname`),
 * from the shared parse. Adapters pass it so that crossws's parse is the one the guard reuses.
 */
export function namespaceOf(request: Request): string {
  const url = requestUrl(request);
  if (url === undefined) throw new TypeError(`Invalid URL: ${request.url}`); // as crossws would
  return url.pathname;
}
