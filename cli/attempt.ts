/**
 * One connection attempt, watched for a bounded time, never throwing: what the upgrade answered
 * (status, `Retry-After`, body), whether the socket opened, what it sent back and how it closed.
 *
 * @module
 */
import WebSocket from 'ws';

/** The most reply frames an outcome keeps (as text, each cut to {@link REPLY_CHARS}). */
export const KEPT_REPLIES = 8;
/** The most characters kept of one reply. */
export const REPLY_CHARS = 400;

/** What one connection attempt ended as. */
export interface Outcome {
  /** HTTP status when the upgrade was refused. */
  readonly status?: number;
  /** The refusal's `Retry-After` header. */
  readonly retryAfter?: string;
  /** The start of the refusal's body. */
  readonly body?: string;
  /** Whether the socket opened. */
  readonly opened: boolean;
  /** Close code, when it closed within the probe's time. */
  readonly closeCode?: number;
  /** Close reason. */
  readonly reason?: string;
  /** Frames received. */
  readonly frames: number;
  /** The first frames received, as text. */
  readonly replies: readonly string[];
  /** Network error text. */
  readonly error?: string;
  /** How long the attempt took, ms. */
  readonly ms: number;
}

/** How to make one attempt. */
export interface Attempt {
  readonly url: string;
  readonly origin?: string;
  readonly headers?: Record<string, string>;
  readonly protocols?: string[];
  /** Local address to connect from (`--source`). */
  readonly localAddress?: string;
  /** Frames to send once open. */
  readonly send?: (ws: WebSocket) => void;
  /** How long to watch, ms (also the handshake's bound). */
  readonly waitMs: number;
  /** Settle as soon as this many frames arrived. */
  readonly settleAfterFrames?: number;
  /** Settle as soon as the socket opens. */
  readonly settleOnOpen?: boolean;
  /** Settle this long after the socket opened (unless it closed first). */
  readonly settleAfterOpenMs?: number;
}

function readBody(res: NodeJS.ReadableStream, done: (body: string) => void): void {
  let body = '';
  const timer = setTimeout(() => done(body), 500);
  res.on('data', (chunk: Buffer) => {
    if (body.length < 2000) body += chunk.toString('utf8');
  });
  res.on('end', () => {
    clearTimeout(timer);
    done(body.slice(0, 2000));
  });
  res.on('error', () => {
    clearTimeout(timer);
    done(body);
  });
}

/** Open one connection and watch it for `waitMs`; never throws. */
export function attempt(a: Attempt): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let opened = false;
    let frames = 0;
    const replies: string[] = [];
    let settled = false;
    const ws = new WebSocket(a.url, a.protocols ?? [], {
      ...(a.origin !== undefined ? { origin: a.origin } : {}),
      ...(a.localAddress !== undefined ? { localAddress: a.localAddress } : {}),
      headers: a.headers ?? {},
      handshakeTimeout: a.waitMs,
      // Large enough for an echo of the biggest probe: a client-side 1009 would read as the server's.
      maxPayload: 64 * 1024 * 1024,
    });
    const done = (o: Omit<Outcome, 'ms' | 'replies' | 'frames' | 'opened'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      resolve({ opened, frames, replies, ...o, ms: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(() => done({}), a.waitMs);
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = res.headers['retry-after'];
      readBody(res, (body) =>
        done({
          status: res.statusCode ?? 0,
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
          ...(body ? { body } : {}),
        }),
      );
    });
    ws.on('open', () => {
      opened = true;
      if (a.settleOnOpen) return done({});
      if (a.settleAfterOpenMs !== undefined) setTimeout(() => done({}), a.settleAfterOpenMs);
      try {
        a.send?.(ws);
      } catch {
        // The socket may close under us; the close event reports it.
      }
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      frames++;
      if (replies.length < KEPT_REPLIES)
        replies.push(
          isBinary ? `<binary ${data.length} B>` : data.toString('utf8', 0, REPLY_CHARS),
        );
      if (a.settleAfterFrames !== undefined && frames >= a.settleAfterFrames) done({});
    });
    ws.on('close', (code, reason) =>
      done({
        closeCode: code,
        ...(reason.length ? { reason: reason.toString().slice(0, 200) } : {}),
      }),
    );
    ws.on('error', (e) => {
      if (!opened) done({ error: e.message });
    });
  });
}

/** The outcome in a few words, for the report. */
export function describe(o: Outcome): string {
  if (o.status !== undefined)
    return `HTTP ${o.status}${o.retryAfter ? ` (Retry-After: ${o.retryAfter})` : ''}`;
  if (o.error !== undefined && !o.opened) return `error: ${o.error}`;
  const replies = o.frames > 0 ? `, ${o.frames} repl${o.frames === 1 ? 'y' : 'ies'}` : '';
  if (o.closeCode !== undefined)
    return `${o.opened ? 'opened, then ' : ''}closed ${o.closeCode}${o.reason ? ` (${o.reason})` : ''}${replies}`;
  return o.opened ? `opened and stayed open${replies}` : 'no answer';
}

/** Refused at the upgrade with one of `statuses`, or closed with one of `codes`. */
export function refused(
  o: Outcome,
  statuses: readonly number[],
  codes: readonly number[],
): boolean {
  if (o.status !== undefined) return statuses.includes(o.status);
  return o.closeCode !== undefined && codes.includes(o.closeCode);
}

/** Accepted and still open at the end of the watch: the attack got a working socket. */
export function stayedOpen(o: Outcome): boolean {
  return o.opened && o.closeCode === undefined;
}
