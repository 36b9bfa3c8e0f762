/**
 * A tRPC bridge served the way an app serves it: wsguard's Node adapter (`serve`, crossws and
 * `ws` inside) with `trpcHooks(bridge)`, so refused frames reach `bridge.refused` exactly as in
 * production. Listens on 127.0.0.1, port 0. Also signs the tests' tokens.
 */
import type { AnyRouter } from '@trpc/server';
import { SignJWT } from 'jose';
import { serve } from '../../adapters/node.ts';
import { createGuard, type Guard, type GuardOptions } from '../../src/mod.ts';
import type { GuardedServer } from '../../src/transport/serve.ts';
import {
  createTRPCBridge,
  type TRPCBridge,
  type TRPCBridgeOptions,
  trpcHooks,
} from '../../src/trpc.ts';

/** The HS256 secret of these tests' guards. */
export const BRIDGE_SECRET = 'a-test-secret-that-is-long-enough-32b';
const key = new TextEncoder().encode(BRIDGE_SECRET);

/** A token for `sub` with `roles`, valid 10 minutes. */
export function sign(sub: string, roles: string[]): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(key);
}

/** A guard for these tests: query/header/connectionParams tokens, no connection caps. */
export function testGuard(extra: Partial<GuardOptions> = {}): Guard {
  return createGuard({
    origins: ['http://127.0.0.1'],
    jwt: { algorithms: ['HS256'], secret: BRIDGE_SECRET },
    credentials: { header: true, query: true, firstMessage: true },
    permissions: {
      roles: {
        admin: ['admin.*'],
        reader: ['admin.read'],
        user: ['chat.*'],
      },
    },
    messages: { passthrough: ['PING', 'PONG'] },
    audit: false,
    penalties: false,
    ...extra,
    limits: {
      connectRate: false,
      maxConnectionsPerIp: false,
      maxConnectionsPerUser: false,
      ...extra.limits,
    },
  });
}

/** A served bridge. */
export interface ServedBridge {
  readonly guard: Guard;
  readonly bridge: TRPCBridge;
  readonly server: GuardedServer;
  /** `ws://127.0.0.1:PORT/ws` */
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** Options of the server itself (not of the bridge). */
export interface ServeBridgeOptions {
  /** Failures of the hooks and the adapter (ignored by default). */
  readonly onError?: (error: unknown, context: { stage: string }) => void;
}

/** Serve `router` through a bridge on `guard` (Node adapter + `trpcHooks`). */
export async function serveBridge<TRouter extends AnyRouter>(
  guard: Guard,
  options: Omit<TRPCBridgeOptions<TRouter>, 'guard'>,
  serveOptions: ServeBridgeOptions = {},
): Promise<ServedBridge> {
  const bridge = createTRPCBridge({ onError: () => {}, ...options, guard });
  const server = await serve({
    guard,
    hooks: trpcHooks(bridge),
    hookOptions: { path: '/ws' },
    shutdownTimeoutMs: 1000,
    onError: serveOptions.onError ?? (() => {}),
  });
  return {
    guard,
    bridge,
    server,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
    close: () => server.close(),
  };
}
