/**
 * What every fixture server of the shared suite serves, whatever runs it (a runtime's own
 * adapter in `fixture-server.ts`, or a framework integration's fixture): the guards (one per
 * server: main, first, compressed, tls, strict, idle, bare), the app hook the suite talks to
 * (echo, push, throw, reject), the HTTP routes on every server (`/ticket`, `/stats`), and the
 * process protocol: one JSON line with the servers' URLs on stdout, SIGTERM closes every server
 * gracefully and prints `{"closed":true,...}`, and the process ends by itself after 170 s.
 *
 * A fixture that cannot serve one of the servers leaves it out of `runFixture`'s map; its suite
 * target then skips the cases that need it, with the reason printed (see `suite.ts`, `Target`).
 */
import { readFileSync } from 'node:fs';
import type { Peer } from 'crossws';
import type { GuardedHooks } from '../../src/guard/types.ts';
import { createGuard, type Guard, json, type Principal, ticketHandler } from '../../src/mod.ts';
import { FIXTURE_ORIGIN, FIXTURE_SECRET, TRUSTED_PROXY } from './constants.ts';

/** The runtime this process runs on. */
export const runtime: 'node' | 'bun' | 'deno' =
  'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CHUNK = 'x'.repeat(64 * 1024);
let pushDone = 0;

/** Push until the socket leaves OPEN (the guard closed it) or 256 MiB went out. */
function push(peer: Peer): void {
  let sent = 0;
  const tick = (): void => {
    for (let i = 0; i < 16; i++) {
      if (peer.websocket.readyState !== 1 || sent >= 256 * 1024 * 1024) {
        pushDone++;
        return;
      }
      peer.send(CHUNK);
      sent += CHUNK.length;
    }
    setTimeout(tick, 0);
  };
  tick();
}

/** The app hook: echo, or push / throw / reject on request. */
export const hooks: GuardedHooks = {
  message(peer, _message, { connection, value, authenticated }) {
    const sub = connection.principal?.sub;
    if (authenticated) {
      peer.send(JSON.stringify({ authenticated: true, sub }));
      return;
    }
    const type = (value as { type?: unknown } | null)?.type;
    if (type === 'push') return push(peer);
    if (type === 'throw') throw new Error('app hook failed (fixture)');
    if (type === 'reject') return Promise.reject(new Error('app hook rejected (fixture)'));
    peer.send(JSON.stringify({ echo: value, sub, ip: connection.ip }));
  },
};

/** Guard and adapter errors, to stderr (the suite shows them on failure). */
export const onError = (error: unknown, context: { stage: string }): void => {
  console.error(`[fixture ${runtime}] ${context.stage}:`, error);
};

function guard(extra: Parameters<typeof createGuard>[0] = {}): Guard {
  return createGuard({
    origins: [FIXTURE_ORIGIN],
    jwt: { algorithms: ['HS256'], secret: FIXTURE_SECRET },
    tickets: true,
    credentials: { header: true, query: true, ticket: true },
    // The suite opens many sockets from a few loopback addresses.
    limits: { connectRate: { limit: 1000, windowMs: 1000, burst: 1000 }, maxConnectionsPerIp: 50 },
    audit: false,
    onError,
    principal: async (p: Principal) => {
      // A slow upgrade check, for the "TCP reset during the check" case.
      if (p.sub === 'slow') await sleep(800);
      return p;
    },
    ...extra,
  });
}

/** One guard per server. */
export const guards = {
  main: guard(),
  first: guard({ credentials: { firstMessage: { timeoutMs: 400 } } }),
  compressed: guard(),
  tls: guard({ requireSecure: true }),
  strict: guard({ requireSecure: true }),
  idle: guard(),
  bare: guard(),
};

/** Every guard's counters. */
export const stats = () =>
  Object.fromEntries(Object.entries(guards).map(([name, g]) => [name, g.stats()]));
const rss = (): number =>
  runtime === 'deno'
    ? (globalThis as unknown as { Deno: { memoryUsage(): { rss: number } } }).Deno.memoryUsage().rss
    : process.memoryUsage().rss;

/** The HTTP routes of a server guarded by `g`: `/ticket`, `/stats`, else 404. */
export const fetchFor =
  (g: Guard) =>
  (request: Request): Response | Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === '/ticket') return ticketHandler(g)(request);
    if (path === '/stats') return json({ runtime, stats: stats(), pushDone, rss: rss() });
    return new Response('not found', { status: 404 });
  };

/** Certificate and key for the TLS server, when the suite passed them. */
export const tls =
  process.env.FIXTURE_CERT && process.env.FIXTURE_KEY
    ? {
        cert: readFileSync(process.env.FIXTURE_CERT, 'utf8'),
        key: readFileSync(process.env.FIXTURE_KEY, 'utf8'),
      }
    : undefined;

/**
 * What every server shares: the hook, errors, a 2 s shutdown, and a short open timeout (Deno
 * never reports a socket whose client left during the check).
 */
export const base = {
  hooks,
  onError,
  shutdownTimeoutMs: 2000,
  hookOptions: { openTimeoutMs: 2000 },
};

/** A server of the fixture: its URL, and a graceful close. */
export interface FixtureServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Print the servers' URLs, close them all on SIGTERM (then exit 0), exit by itself after 170 s. */
export function runFixture(servers: Record<string, FixtureServer>): void {
  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) return;
    closing = true;
    Promise.all(Object.values(servers).map((s) => s.close())).then(
      () => {
        process.stdout.write(`${JSON.stringify({ closed: true, stats: stats() })}\n`);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
  // A fixture never outlives a stuck suite.
  setTimeout(() => process.exit(3), 170_000);

  process.stdout.write(
    `${JSON.stringify({ runtime, urls: Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.url])) })}\n`,
  );
}

/** The options each server of the suite is started with (as `fixture-server.ts` starts them). */
export interface SuiteServerOptions {
  readonly trustProxy?: readonly string[];
  readonly compression?: boolean;
  readonly idleTimeout?: number;
  readonly headersTimeoutMs?: number;
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** The servers of the suite, by name. */
export type SuiteServerName = 'main' | 'first' | 'compressed' | 'strict' | 'idle' | 'bare' | 'tls';

/**
 * Start every server of the suite with `start` (one framework's way of serving a guard), each
 * with its guard and options, then {@link runFixture}. `overrides` replaces a server's options
 * where a framework cannot take them (Bun's fixed header deadline for `bare`).
 */
export async function serveSuite(
  start: (guard: Guard, options: SuiteServerOptions) => FixtureServer | Promise<FixtureServer>,
  overrides: Partial<Record<SuiteServerName, SuiteServerOptions>> = {},
): Promise<void> {
  const options: Record<SuiteServerName, SuiteServerOptions> = {
    main: { trustProxy: [TRUSTED_PROXY] },
    first: {},
    compressed: { compression: true },
    strict: { trustProxy: [TRUSTED_PROXY] },
    idle: { idleTimeout: 1 },
    bare: { headersTimeoutMs: 0 },
    tls: tls ? { tls } : {},
    ...overrides,
  };
  const servers: Record<string, FixtureServer> = {};
  for (const name of ['main', 'first', 'compressed', 'strict', 'idle', 'bare'] as const) {
    servers[name] = await start(guards[name], options[name]);
  }
  if (tls) servers.tls = await start(guards.tls, options.tls);
  runFixture(servers);
}
