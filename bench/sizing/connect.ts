/**
 * One connection attempt of a sizing client, from its own loopback source address: with a JWT in
 * the `Authorization` header, or (the browser's way) a one-time ticket fetched with the JWT from
 * another instance's `POST /ws/ticket` and sent as `?ticket=`. Resolves with an open socket or with
 * why there is none (the ticket endpoint's status, the handshake's HTTP status, a close before
 * open, a network error, a timeout); never rejects. Every wait is bounded.
 *
 * @module
 */
import { request } from 'node:http';
import WebSocket from 'ws';
import { SIZING_ORIGIN } from './plan.ts';

/** How a connection authenticates. */
export type AuthMode = 'jwt' | 'ticket';

/** What one attempt came to. */
export type Attempt =
  | { readonly ok: true; readonly ws: WebSocket }
  | {
      readonly ok: false;
      /** `ticket:<status>`, `http:<status>`, `close:<code>`, `error:<code>`, `timeout`. */
      readonly outcome: string;
      /** The close code a browser would report (1006 for anything before open). */
      readonly code: number;
      readonly reason: string;
      /** The ticket endpoint's `Retry-After`, in ms. */
      readonly retryAfterMs?: number;
    };

/** Where and as whom an attempt connects. */
export interface Target {
  /** `http://127.0.0.1:PORT` of the instance the socket opens on. */
  readonly base: string;
  /** `http://127.0.0.1:PORT` of the instance the ticket comes from. */
  readonly ticketBase: string;
  readonly localAddress: string;
  readonly token: string;
  readonly mode: AuthMode;
}

const TIMEOUT_MS = 15_000;

interface Ticket {
  readonly ticket?: string;
  readonly status: number;
  readonly retryAfterMs?: number;
}

/** `POST /ws/ticket` from `localAddress` (a fresh TCP connection: a per-address keep-alive pool
 * over thousands of addresses would hold thousands of idle sockets). */
function fetchTicket(target: Target): Promise<Ticket> {
  return new Promise((resolve) => {
    const req = request(
      `${target.ticketBase}/ws/ticket`,
      {
        method: 'POST',
        agent: false,
        localAddress: target.localAddress,
        headers: {
          authorization: `Bearer ${target.token}`,
          origin: SIZING_ORIGIN,
          'content-length': 0,
        },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const retry = Number(res.headers['retry-after']);
          const retryAfterMs = Number.isFinite(retry) ? retry * 1000 : undefined;
          let ticket: string | undefined;
          try {
            ticket = status === 200 ? (JSON.parse(body) as { ticket?: string }).ticket : undefined;
          } catch {
            ticket = undefined;
          }
          resolve({
            status,
            ...(ticket ? { ticket } : {}),
            ...(retryAfterMs ? { retryAfterMs } : {}),
          });
        });
        res.on('error', () => resolve({ status: 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/** Open the socket, bounded by `TIMEOUT_MS`. */
function openSocket(url: string, target: Target): Promise<Attempt> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { origin: SIZING_ORIGIN };
    if (target.mode === 'jwt') headers['authorization'] = `Bearer ${target.token}`;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      localAddress: target.localAddress,
      headers,
    });
    let settled = false;
    const fail = (outcome: string, code = 1006, reason = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve({ ok: false, outcome, code, reason });
    };
    const timer = setTimeout(() => fail('timeout'), TIMEOUT_MS);
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok: true, ws });
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      fail(`http:${res.statusCode}`);
    });
    ws.on('close', (code, reason) => fail(`close:${code}`, code, String(reason)));
    ws.on('error', (error: Error & { code?: string }) => fail(`error:${error.code ?? 'other'}`));
  });
}

/** One attempt: the ticket first when `mode` is `ticket`, then the socket. */
export async function connectOnce(target: Target): Promise<Attempt> {
  const ws = target.base.replace(/^http/, 'ws');
  if (target.mode === 'jwt') return openSocket(`${ws}/ws`, target);
  const t = await fetchTicket(target);
  if (!t.ticket)
    return {
      ok: false,
      outcome: `ticket:${t.status}`,
      code: 0,
      reason: `ticket ${t.status}`,
      ...(t.retryAfterMs !== undefined ? { retryAfterMs: t.retryAfterMs } : {}),
    };
  return openSocket(`${ws}/ws?ticket=${encodeURIComponent(t.ticket)}`, target);
}
