/**
 * The server the runtime suite drives, started under Node (tsx), Bun or Deno. It serves six guarded
 * servers on port 0 through the adapter of the runtime it runs on, prints one JSON line with their
 * URLs, and serves until killed. SIGTERM closes every server gracefully, prints
 * `{"closed":true,...}` with the counters after shutdown, and exits 0.
 *
 * Environment: FIXTURE_CERT and FIXTURE_KEY (PEM files) for the TLS server.
 *
 * Servers (each with its own guard):
 * - main: JWT (header, query) and tickets; trusts 127.0.0.10 as a proxy; echoes frames;
 *   `{type:'push'}` pushes 64 KiB chunks until the socket closes (slow-consumer case);
 * - first: first-message auth with a 400 ms timeout;
 * - compressed: like main with permessage-deflate on;
 * - tls: like main over https, production mode (`requireSecure`);
 * - strict: plain http in production mode, trusting 127.0.0.10 to report TLS;
 * - idle: like main with a 1 s idle timeout (the runtime pings, then drops a silent client);
 * - bare: like main with `headersTimeoutMs: 0` (on Deno: plain `Deno.serve`, no front), to pin
 *   down what the runtime does on its own.
 *
 * Every server but `bare` has the default header deadline (10 s).
 */
import { readFileSync } from 'node:fs';
import type { Peer } from 'crossws';
import type { GuardedHooks } from '../../src/guard/types.ts';
import { createGuard, type Guard, json, type Principal, ticketHandler } from '../../src/mod.ts';
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import { FIXTURE_ORIGIN, FIXTURE_SECRET, TRUSTED_PROXY } from './constants.ts';

type Runtime = 'node' | 'bun' | 'deno';
const runtime: Runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

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

const hooks: GuardedHooks = {
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

const onError = (error: unknown, context: { stage: string }): void => {
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

const guards = {
  main: guard(),
  first: guard({ credentials: { firstMessage: { timeoutMs: 400 } } }),
  compressed: guard(),
  tls: guard({ requireSecure: true }),
  strict: guard({ requireSecure: true }),
  idle: guard(),
  bare: guard(),
};

const stats = () =>
  Object.fromEntries(Object.entries(guards).map(([name, g]) => [name, g.stats()]));
const rss = (): number =>
  runtime === 'deno'
    ? (globalThis as unknown as { Deno: { memoryUsage(): { rss: number } } }).Deno.memoryUsage().rss
    : process.memoryUsage().rss;

const { serve } = (await import(`../../adapters/${runtime}.ts`)) as {
  serve(options: ServeOptions): Promise<GuardedServer>;
};

const fetchFor =
  (g: Guard) =>
  (request: Request): Response | Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === '/ticket') return ticketHandler(g)(request);
    if (path === '/stats') return json({ runtime, stats: stats(), pushDone, rss: rss() });
    return new Response('not found', { status: 404 });
  };

const tls =
  process.env.FIXTURE_CERT && process.env.FIXTURE_KEY
    ? {
        cert: readFileSync(process.env.FIXTURE_CERT, 'utf8'),
        key: readFileSync(process.env.FIXTURE_KEY, 'utf8'),
      }
    : undefined;

// A short open timeout: Deno never reports a socket whose client left during the check.
const base = { hooks, onError, shutdownTimeoutMs: 2000, hookOptions: { openTimeoutMs: 2000 } };
const servers: Record<string, GuardedServer> = {
  main: await serve({
    ...base,
    guard: guards.main,
    fetch: fetchFor(guards.main),
    trustProxy: [TRUSTED_PROXY],
  }),
  first: await serve({ ...base, guard: guards.first, fetch: fetchFor(guards.first) }),
  compressed: await serve({
    ...base,
    guard: guards.compressed,
    fetch: fetchFor(guards.compressed),
    compression: true,
  }),
  strict: await serve({
    ...base,
    guard: guards.strict,
    fetch: fetchFor(guards.strict),
    trustProxy: [TRUSTED_PROXY],
  }),
  idle: await serve({ ...base, guard: guards.idle, fetch: fetchFor(guards.idle), idleTimeout: 1 }),
  bare: await serve({
    ...base,
    guard: guards.bare,
    fetch: fetchFor(guards.bare),
    headersTimeoutMs: 0,
  }),
};
if (tls)
  servers.tls = await serve({ ...base, guard: guards.tls, fetch: fetchFor(guards.tls), tls });

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
