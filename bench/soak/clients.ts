/**
 * The soak driver's clients: tokens (signed once per user, for the whole run), the ticket
 * endpoint over a keep-alive agent, and one `ws` session that connects, optionally authenticates
 * in its first message, exchanges chat frames and closes; its outcome is one short string
 * (`ok`, `close:<code>`, `http:<status>`, `error:<code>`, `timeout`, `bad-echo`). Every wait is
 * bounded.
 *
 * @module
 */
import { Agent, request } from 'node:http';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { CHAT_FRAME, FORGERY_SECRET, SOAK_ORIGIN, SOAK_SECRET } from './plan.ts';

const encoder = new TextEncoder();
const KEY = encoder.encode(SOAK_SECRET);
const FORGERY_KEY = encoder.encode(FORGERY_SECRET);

/** Sign a token for `sub`; `expiresIn` seconds from now (negative: already expired). */
export function sign(sub: string, expiresIn = 3600, key: Uint8Array = KEY): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + expiresIn)
    .sign(key);
}

/** Tokens signed once for every user (signing per cycle would only measure jose). */
export interface Tokens {
  /** A valid token for `sub`. */
  valid(sub: string): string;
  /** Signed with a key the guard does not know. */
  readonly forged: string;
  /** Expired an hour ago. */
  readonly expired: string;
}

/** Sign a valid token for each of `users`, and one forged and one expired. */
export async function makeTokens(users: readonly string[]): Promise<Tokens> {
  const map = new Map<string, string>();
  for (const u of users) map.set(u, await sign(u));
  const forged = await sign('user-0', 3600, FORGERY_KEY);
  const expired = await sign('user-0', -3600);
  return {
    valid: (sub) => {
      const t = map.get(sub);
      if (t === undefined) throw new Error(`no token for ${sub}`);
      return t;
    },
    forged,
    expired,
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** A one-time ticket from the server's ticket endpoint (bounded: 5 s). */
export function fetchTicket(base: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/ticket`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, origin: SOAK_ORIGIN, 'content-length': 0 },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`ticket: ${res.statusCode} ${body}`));
          else resolve((JSON.parse(body) as { ticket: string }).ticket);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('ticket: timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Close the ticket agent's sockets (end of a run). */
export function closeAgent(): void {
  agent.destroy();
}

/** What a session does once open. */
export interface SessionScript {
  /** Send this first-message credential and wait for the server's `{"authenticated":true}`. */
  readonly authToken?: string;
  /** Chat frames to exchange one at a time before closing with 1000. */
  readonly chats?: number;
  /**
   * Leave right after sending the first-message credential, without waiting: `terminate` (a
   * reset) or `close` (a close frame). The outcome is then `left`.
   */
  readonly leaveAfterAuth?: 'terminate' | 'close';
}

/** Options of a session. */
export interface SessionOptions {
  readonly url: string;
  readonly localAddress: string;
  readonly headers?: Record<string, string>;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

/**
 * One `ws` session: connect, run `script`, close. Resolves with its outcome; never rejects, and
 * the socket is gone (closed or terminated) once it resolves.
 */
export function session(options: SessionOptions, script: SessionScript): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(options.url, {
      perMessageDeflate: false,
      localAddress: options.localAddress,
      headers: options.headers ?? {},
    });
    let settled = false;
    let chats = script.chats ?? 1;
    let authenticated = script.authToken === undefined;
    let closing = false;
    const done = (outcome: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), options.timeoutMs ?? 10_000);
    const next = (): void => {
      if (chats > 0) {
        chats--;
        ws.send(CHAT_FRAME);
      } else {
        closing = true;
        ws.close(1000);
      }
    };
    ws.on('open', () => {
      if (script.authToken !== undefined) {
        ws.send(JSON.stringify({ type: 'auth', token: script.authToken }));
        if (script.leaveAfterAuth === 'terminate') return done('left');
        if (script.leaveAfterAuth === 'close') {
          ws.close(1000);
          // Resolved on 'close' (below) once the server answered, or by the timeout.
          closing = true;
          return;
        }
        return;
      }
      next();
    });
    ws.on('message', (data) => {
      const text = String(data);
      if (!authenticated) {
        if (text !== '{"authenticated":true}') return done('bad-auth-reply');
        authenticated = true;
        return next();
      }
      if (text !== CHAT_FRAME) return done('bad-echo');
      next();
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      done(`http:${res.statusCode}`);
    });
    ws.on('close', (code) => {
      if (script.leaveAfterAuth === 'close') return done('left');
      done(closing && (code === 1000 || code === 1005) ? 'ok' : `close:${code}`);
    });
    ws.on('error', (error: Error & { code?: string }) => done(`error:${error.code ?? 'other'}`));
  });
}
