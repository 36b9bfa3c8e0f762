/**
 * A guarded server for the CLI tests: `serve()` from adapters/node.ts with `createGuard` and the
 * default limits and penalties (so the audit's own forged credentials get its address banned),
 * an echo app, and a valid token signer. `rs256` verifies RS256 tokens with a public key (and
 * serves it as a key set at `/.well-known/jwks.json`) instead of the HS256 secret; `tickets`
 * issues one-time tickets at `POST /ws/ticket`; `compression` negotiates permessage-deflate.
 */
import { SignJWT } from 'jose';
import { serve } from '../../adapters/node.ts';
import { createGuard } from '../../src/mod.ts';
import { JWKS, PUBLIC_PEM } from './rsa-keys.ts';

export const SECRET = 'cli-audit-secret-that-is-32-bytes-long';

/** A running guarded echo server. */
export interface GuardedEcho {
  /** `ws://127.0.0.1:PORT/ws`. */
  readonly url: string;
  /** The origin it allows, `http://127.0.0.1`. */
  readonly origin: string;
  /** `http://127.0.0.1:PORT`. */
  readonly http: string;
  close(): Promise<void>;
}

/** What to turn on. */
export interface GuardedOptions {
  readonly rs256?: boolean;
  readonly tickets?: boolean;
  readonly compression?: boolean;
}

/** Start it on 127.0.0.1, port 0 (a 127.0.0.x source address reaches it too). */
export async function startGuarded(options: GuardedOptions = {}): Promise<GuardedEcho> {
  // Origins compare the port too: the audit passes `--origin http://127.0.0.1`, allowed here.
  const origin = 'http://127.0.0.1';
  const guard = createGuard({
    origins: [origin],
    jwt: options.rs256
      ? { algorithms: ['RS256'], publicKey: PUBLIC_PEM }
      : { algorithms: ['HS256'], secret: SECRET },
    credentials: { header: true, query: true },
    ...(options.tickets ? { tickets: true } : {}),
    audit: false,
  });
  const server = await serve({
    guard,
    port: 0,
    hostname: '127.0.0.1',
    hooks: { message: (peer, message) => peer.send(message.text()) },
    ...(options.compression ? { compression: true } : {}),
    fetch: (request) =>
      new URL(request.url).pathname === '/.well-known/jwks.json'
        ? Response.json(JWKS)
        : new Response('not found', { status: 404 }),
    onError: () => {},
  });
  const http = server.url.replace(/\/$/, '');
  return { url: `${http.replace(/^http/, 'ws')}/ws`, origin, http, close: () => server.close() };
}

/** A valid token for `sub`, `exp` in `ttl`. */
export function sign(sub: string, ttl: string | number = '5m'): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(SECRET));
}
