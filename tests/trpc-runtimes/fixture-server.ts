/**
 * The server the tRPC runtime suite drives, started under Node (tsx), Bun or Deno: the router of
 * `tests/trpc/fixture-router.ts` served by `createTRPCBridge` + `trpcHooks` through the adapter of
 * the runtime it runs on. It prints one JSON line with its URLs and serves until killed (or for
 * 170 s at most).
 *
 * Servers, each with its own guard:
 * - main: JWT (connectionParams, query) and tickets; roles user / reader / admin; at most
 *   {@link MAIN_MAX_SUBSCRIPTIONS} subscriptions and {@link MAIN_MAX_BATCH} calls per batch; a
 *   subject listed by `POST /revoke?sub=` loses its live subscriptions (re-authorization);
 * - tight: like main, with a per-connection budget of {@link TIGHT_BURST} frames then 1/s and a JSON
 *   depth limit of {@link TIGHT_MAX_DEPTH}, so the guard itself refuses frames;
 * - limited: one connection per IP per minute, refused by accepting then closing with 4029.
 *
 * HTTP on main: `POST /ticket` (bearer JWT), `POST /post?room=&text=` (a chat event from the
 * server side), `POST /revoke?sub=`, `GET /stats` (every guard's counters).
 */
import { createGuard, type Guard, type GuardOptions, json, ticketHandler } from '../../src/mod.ts';
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import { createTRPCBridge, type TRPCBridge, trpcHooks } from '../../src/trpc.ts';
import { makeRouter, Rooms } from '../trpc/fixture-router.ts';
import {
  MAIN_MAX_BATCH,
  MAIN_MAX_SUBSCRIPTIONS,
  TIGHT_BURST,
  TIGHT_MAX_DEPTH,
  TRPC_FIXTURE_ORIGIN,
  TRPC_FIXTURE_SECRET,
} from './constants.ts';

type Runtime = 'node' | 'bun' | 'deno';
const runtime: Runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

let internalErrors = 0;
const onError = (error: unknown, context: { stage: string }): void => {
  internalErrors++;
  console.error(`[trpc fixture ${runtime}] ${context.stage}:`, error);
};

const HIGH = { limit: 100_000, windowMs: 1000, burst: 100_000 };

function guard(extra: Partial<GuardOptions> = {}): Guard {
  return createGuard({
    origins: [TRPC_FIXTURE_ORIGIN],
    jwt: { algorithms: ['HS256'], secret: TRPC_FIXTURE_SECRET, clockToleranceSec: 0 },
    tickets: true,
    credentials: { header: true, query: true, ticket: true, firstMessage: true },
    permissions: { roles: { user: ['chat.*'], reader: ['chat.read'], admin: ['*'] } },
    messages: { passthrough: ['PING', 'PONG'] },
    audit: false,
    onError,
    ...extra,
    limits: {
      connectRate: HIGH,
      maxConnectionsPerIp: 1000,
      maxConnectionsPerUser: 1000,
      ...extra.limits,
    },
  });
}

const rooms = new Rooms();
const revoked = new Set<string>();
const router = makeRouter(rooms);

const guards = {
  main: guard(),
  tight: guard({
    limits: {
      messageRate: { limit: 1, windowMs: 1000, burst: TIGHT_BURST },
      closeAfterRateHits: 1000,
    },
    messages: { passthrough: ['PING', 'PONG'], maxDepth: TIGHT_MAX_DEPTH, maxInvalid: 1000 },
  }),
  limited: guard({
    limits: { connectRate: { limit: 1, windowMs: 60_000, burst: 1 } },
    rejectModes: { connect_rate: 'close' },
    penalties: false,
  }),
};

const bridgeOnError = (error: { code: string }): void => {
  if (error.code === 'INTERNAL_SERVER_ERROR') onError(error, { stage: 'trpc' });
};
const bridges: Record<keyof typeof guards, TRPCBridge> = {
  main: createTRPCBridge({
    router,
    guard: guards.main,
    maxSubscriptions: MAIN_MAX_SUBSCRIPTIONS,
    maxBatchSize: MAIN_MAX_BATCH,
    // A role change the token does not know about: the app's own record says the subject lost it.
    reauthorize: (ctx) => !revoked.has(ctx.principal.sub),
    onError: bridgeOnError,
  }),
  tight: createTRPCBridge({ router, guard: guards.tight, onError: bridgeOnError }),
  limited: createTRPCBridge({ router, guard: guards.limited, onError: bridgeOnError }),
};

const stats = () => ({
  internalErrors,
  guards: Object.fromEntries(Object.entries(guards).map(([name, g]) => [name, g.stats()])),
  sessions: Object.fromEntries(Object.entries(bridges).map(([name, b]) => [name, b.size])),
});

const tickets = ticketHandler(guards.main);
const mainFetch = async (request: Request): Promise<Response> => {
  const url = new URL(request.url);
  const q = (name: string): string => url.searchParams.get(name) ?? '';
  switch (url.pathname) {
    case '/ticket':
      return tickets(request);
    case '/stats':
      return json(stats());
    case '/post':
      return json({ id: rooms.post({ room: q('room'), user: 'server', text: q('text') }) });
    case '/revoke': {
      revoked.add(q('sub'));
      const stopped = await bridges.main.reauthorize((c) => c.principal?.sub === q('sub'));
      return json({ stopped });
    }
    default:
      return new Response('not found', { status: 404 });
  }
};

const { serve } = (await import(`../../adapters/${runtime}.ts`)) as {
  serve(options: ServeOptions): Promise<GuardedServer>;
};
const base = { onError, shutdownTimeoutMs: 2000, hookOptions: { path: '/ws' } };
const servers: Record<keyof typeof guards, GuardedServer> = {
  main: await serve({
    ...base,
    guard: guards.main,
    hooks: trpcHooks(bridges.main),
    fetch: mainFetch,
  }),
  tight: await serve({ ...base, guard: guards.tight, hooks: trpcHooks(bridges.tight) }),
  limited: await serve({ ...base, guard: guards.limited, hooks: trpcHooks(bridges.limited) }),
};

// A fixture never outlives a stuck suite.
setTimeout(() => process.exit(3), 170_000);

process.stdout.write(
  `${JSON.stringify({ runtime, urls: Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.url])) })}\n`,
);
