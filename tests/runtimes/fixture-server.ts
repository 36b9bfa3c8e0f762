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
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import { TRUSTED_PROXY } from './constants.ts';
import { base, fetchFor, guards, runFixture, runtime, tls } from './fixture-parts.ts';

const { serve } = (await import(`../../adapters/${runtime}.ts`)) as {
  serve(options: ServeOptions): Promise<GuardedServer>;
};

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

runFixture(servers);
