/**
 * One parse of a handshake's URL. crossws parses `request.url` to name the peer's namespace, the
 * hooks to match `path`, and the guard to read the path and query: three WHATWG parses of the
 * same string per handshake. Each is the same `new URL(request.url)`, so the first one is kept
 * on the request object and the others reuse it.
 *
 * @module
 */

/** The parse, on the request itself (a WeakMap would cost the GC more; see hooks.ts). */
const URL_SLOT = Symbol('wsguard.url');
type Slot = { [URL_SLOT]?: URL | null };

/** `new URL(request.url)`, parsed once per request; `undefined` when it does not parse. */
export function requestUrl(request: Request): URL | undefined {
  const slot = request as Slot;
  let url = slot[URL_SLOT];
  if (url === undefined) {
    try {
      url = new URL(request.url);
    } catch {
      url = null;
    }
    slot[URL_SLOT] = url;
  }
  return url ?? undefined;
}

/**
 * Drop the kept parse once the handshake is decided: the runtime keeps the request for the life of
 * the socket, and an idle connection should not hold a URL object.
 */
export function forgetRequestUrl(request: Request): void {
  const slot = request as Slot;
  if (slot[URL_SLOT] !== undefined) slot[URL_SLOT] = undefined;
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
