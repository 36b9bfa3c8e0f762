/**
 * One plain HTTP request the audit makes besides its handshakes (a ticket from `--ticket-url`, a
 * key set from `--jwks`), bounded in time and body size, from the audit's current source address
 * so a ticket bound to an address is redeemed from the one that fetched it. It never throws.
 *
 * @module
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What the request got: an answer, or why none. */
export type HttpAnswer =
  | {
      readonly status: number;
      readonly headers: Record<string, string | string[] | undefined>;
      readonly body: string;
    }
  | { readonly error: string };

/** How to make it. */
export interface HttpCall {
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly localAddress?: string;
  /** Bound on the whole exchange, ms. */
  readonly timeoutMs: number;
  /** The most body bytes kept (the rest is dropped, the answer still counts). @default 65536 */
  readonly maxBytes?: number;
}

/** Make the call; resolves to its answer or an `error`, within `timeoutMs`. */
export function httpCall(call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(call.url);
    } catch {
      return resolve({ error: `${call.url} is not a URL` });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return resolve({ error: `${call.url} is not an http(s):// URL` });
    const limit = call.maxBytes ?? 65_536;
    let settled = false;
    const done = (a: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(
      url,
      {
        method: call.method ?? 'GET',
        headers: { 'content-length': '0', ...call.headers },
        ...(call.localAddress !== undefined ? { localAddress: call.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < limit) chunks.push(c.subarray(0, limit - size));
          size += c.length;
        });
        const finish = (): void =>
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    const timer = setTimeout(
      () => done({ error: `no answer within ${call.timeoutMs} ms` }),
      call.timeoutMs,
    );
    req.on('error', (e) => done({ error: e.message }));
    req.end();
  });
}
