/**
 * Bounded request bodies for HTTP handlers: a declared `Content-Length` over the limit is refused
 * before a byte is read, and a body without one (chunked) is read only up to the limit, then its
 * stream is cancelled, so a 32 MiB upload costs the server at most the limit and the runtime's
 * buffers, never the whole body. The whole body must also arrive within a deadline: a client
 * trickling bytes cannot hold a handler open. Web-standard streams only.
 *
 * Answer a refusal with `bodyRefused` (in `http.ts`): 413, 408, 415 or 400 with `Connection: close`,
 * since the rest of the body is never read.
 *
 * @module
 */

/** How much of a body to read, and for how long. */
export interface BodyLimits {
  /** Bytes; a body over this is refused with 413. A non-negative integer. */
  readonly maxBytes: number;
  /**
   * The whole body must have arrived within this many milliseconds, else 408.
   * @default 10000
   */
  readonly timeoutMs?: number;
}

/** A body refused, with the status to answer and a short fixed text (never the body's content). */
export interface BodyRefusal {
  /** Always `false`. */
  readonly ok: false;
  /**
   * 413: over the limit (declared or counted); 408: too slow; 415: not JSON (for `readJson`);
   * 400: malformed `Content-Length`, unreadable or already read body, invalid UTF-8 or JSON.
   */
  readonly status: 400 | 408 | 413 | 415;
  /** What to tell the client. */
  readonly error: string;
}

/** A body read whole within its limits, or why not. */
export type BodyRead = { readonly ok: true; readonly bytes: Uint8Array } | BodyRefusal;

/** A JSON body parsed within its limits, or why not. */
export type JsonRead = { readonly ok: true; readonly value: unknown } | BodyRefusal;

/** How long a body may take when the caller does not say. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

const refuse = (status: BodyRefusal['status'], error: string): BodyRefusal => ({
  ok: false,
  status,
  error,
});

const TIMEOUT = Symbol('timeout');

/** Stop the runtime reading a body nobody will read: it may be gigabytes. Never throws. */
function cancel(target: ReadableStream | ReadableStreamDefaultReader | null | undefined): void {
  try {
    target?.cancel().catch(() => {});
  } catch {
    // A locked stream or a runtime that refuses: the response still says Connection: close.
  }
}

function checkLimits(limits: BodyLimits): number {
  const { maxBytes, timeoutMs = DEFAULT_BODY_TIMEOUT_MS } = limits;
  // A bad limit is the caller's bug: fail loudly rather than read an unbounded body.
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new RangeError(`body limit: maxBytes must be a non-negative integer, got ${maxBytes}`);
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
    throw new RangeError(`body limit: timeoutMs must be a positive number, got ${timeoutMs}`);
  return timeoutMs;
}

/**
 * Read a request's body whole, but never more than `maxBytes` of it: a `Content-Length` over the
 * limit is refused unread (413), a longer body is cut at the limit and its stream cancelled
 * (413), and one that takes longer than `timeoutMs` is cancelled too (408). A request without a
 * body reads as empty.
 *
 * @example
 * ```ts
 * const read = await readBody(request, { maxBytes: 4096 });
 * if (!read.ok) return bodyRefused(read);
 * ```
 */
export async function readBody(request: Request, limits: BodyLimits): Promise<BodyRead> {
  const timeoutMs = checkLimits(limits);
  const max = limits.maxBytes;
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    const digits = declared.trim();
    if (!/^\d+$/.test(digits)) {
      cancel(request.body);
      return refuse(400, 'invalid content-length');
    }
    // Compared as digits first: a 30-digit length is not a number worth parsing.
    if (digits.length > 15 || Number(digits) > max) {
      cancel(request.body);
      return refuse(413, 'body too large');
    }
  }
  const body = request.body;
  if (body === null) return { ok: true, bytes: new Uint8Array(0) };
  if (request.bodyUsed || body.locked) return refuse(400, 'body already read');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
  });
  try {
    for (;;) {
      const step = await Promise.race([reader.read(), deadline]);
      if (step === TIMEOUT) {
        cancel(reader);
        return refuse(408, 'body too slow');
      }
      if (step.done) break;
      const chunk: unknown = step.value;
      if (!(chunk instanceof Uint8Array)) {
        cancel(reader);
        return refuse(400, 'unreadable body');
      }
      size += chunk.byteLength;
      if (size > max) {
        // Stop here: what the client sends after the limit is never read, let alone kept.
        cancel(reader);
        return refuse(413, 'body too large');
      }
      chunks.push(chunk);
    }
  } catch {
    cancel(reader);
    return refuse(400, 'unreadable body'); // the client went away mid-body
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0]! };
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { ok: true, bytes };
}

/** `application/json` or any `application/…+json`, parameters (charset) ignored. */
function isJson(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/**
 * Read and parse a JSON body within `limits` ({@link readBody}): 415 unless the request says
 * `Content-Type: application/json` (checked first, the body then unread: a cross-site form cannot
 * send that type without a preflight), 400 for invalid UTF-8 or JSON.
 *
 * @example
 * ```ts
 * const read = await readJson(request, { maxBytes: 4096 });
 * if (!read.ok) return bodyRefused(read);
 * ```
 */
export async function readJson(request: Request, limits: BodyLimits): Promise<JsonRead> {
  checkLimits(limits);
  if (!isJson(request.headers.get('content-type'))) {
    cancel(request.body);
    return refuse(415, 'JSON body required');
  }
  const read = await readBody(request, limits);
  if (!read.ok) return read;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
  } catch {
    return refuse(400, 'invalid UTF-8');
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return refuse(400, 'invalid JSON');
  }
}
