/**
 * The HTTP/1.1 heads as the Deno front sees them: where a head ends, what the request line and
 * `Upgrade` headers say, whether a response switches protocols, and the fixed responses the front
 * refuses with (it never parses more of HTTP than that).
 *
 * @module
 */

/** Request heads larger than this are refused (Node and Bun: 16 KiB). */
export const MAX_HEAD: number = 32 * 1024;

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const refusal = (status: string): Uint8Array =>
  ascii(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
/** No complete head within the deadline. */
export const TIMEOUT: Uint8Array = refusal('408 Request Timeout');
/** A head over {@link MAX_HEAD}. */
export const TOO_LARGE: Uint8Array = refusal('431 Request Header Fields Too Large');
/** HTTP/2 or later: the front speaks HTTP/1.1. */
export const VERSION: Uint8Array = refusal('505 HTTP Version Not Supported');
/**
 * Appended to a request that is not a handshake, in place of the head's final blank line, so the
 * next request on the connection cannot escape the header deadline.
 */
export const CLOSE_HEADER: Uint8Array = ascii('\r\nconnection: close\r\n\r\n');

/** Index of the `\r\n\r\n` ending a head in `buffer[from, to)`, or -1. */
export function headEnd(buffer: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(0, from); i + 3 < to; i++)
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10)
      return i;
  return -1;
}

const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/(\d+(?:\.\d+)?)$/;
const UPGRADE_LINE = /^upgrade[ \t]*:(.*)$/gim;

/** The version in the request line and whether any `Upgrade` header names `websocket`. */
export function parseHead(head: string): { version: string | undefined; websocket: boolean } {
  const first = head.slice(0, head.indexOf('\r\n') >>> 0);
  const version = REQUEST_LINE.exec(first)?.[1];
  let websocket = false;
  for (const m of head.matchAll(UPGRADE_LINE))
    if (m[1]!.split(',').some((t) => t.trim().toLowerCase() === 'websocket')) websocket = true;
  return { version, websocket };
}

/** Whether a response head (its first bytes suffice) is a `101 Switching Protocols`. */
export function isSwitching(head: Uint8Array): boolean {
  return /^HTTP\/1\.[01] 101 /.test(new TextDecoder('latin1').decode(head.subarray(0, 16)));
}
