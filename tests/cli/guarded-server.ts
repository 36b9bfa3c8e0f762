/**
 * A guarded server for the CLI tests: `serve()` from adapters/node.ts with `createGuard` and the
 * default limits and penalties (so the audit's own forged credentials get its address banned),
 * an echo app, and a valid token signer.
 */
import { SignJWT } from 'jose';
import { serve } from '../../adapters/node.ts';
import { createGuard } from '../../src/mod.ts';

export const SECRET = 'cli-audit-secret-that-is-32-bytes-long';

/** A running guarded echo server. */
export interface GuardedEcho {
  /** `ws://127.0.0.1:PORT/ws`. */
  readonly url: string;
  /** The origin it allows, `http://127.0.0.1`. */
  readonly origin: string;
  close(): Promise<void>;
}

/** Start it on 127.0.0.1, port 0 (a 127.0.0.x source address reaches it too). */
export async function startGuarded(): Promise<GuardedEcho> {
  // Origins compare the port too: the audit passes `--origin http://127.0.0.1`, allowed here.
  const origin = 'http://127.0.0.1';
  const guard = createGuard({
    origins: [origin],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    credentials: { header: true, query: true },
    audit: false,
  });
  const server = await serve({
    guard,
    port: 0,
    hostname: '127.0.0.1',
    hooks: { message: (peer, message) => peer.send(message.text()) },
    onError: () => {},
  });
  return { url: `${server.url.replace(/^http/, 'ws')}/ws`, origin, close: () => server.close() };
}

/** A valid token for `sub`, `exp` in `ttl`. */
export function sign(sub: string, ttl: string | number = '5m'): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(SECRET));
}
