/**
 * The shared end-to-end suite against Hono on Deno (`adapters/hono.ts`), both ways: the guard's
 * middleware on a Hono app under plain `Deno.serve`, and a Hono app run by wsguard's own `serve`
 * (its front in place). Plain `Deno.serve` cannot give what only the front gives; each such case
 * is listed with the reason.
 */
import { runtimeSuite } from '../runtimes/suite.ts';

const WITHOUT_FRONT = 'Deno.serve alone (no wsguard front; use serve({ fetch: app.fetch }))';

runtimeSuite({
  name: 'hono on deno (Deno.serve)',
  runtime: 'deno',
  fixture: 'tests/integrations/fixtures/hono-deno-server.ts',
  gaps: {
    'held partial request heads': `${WITHOUT_FRONT} has no header deadline`,
    'times out a partial request': `${WITHOUT_FRONT} has no header deadline`,
    'refuses an HTTP/1.0 handshake': `${WITHOUT_FRONT} does not tell the request line's HTTP version`,
    'delivers the close code while the client keeps sending': `${WITHOUT_FRONT} drops its close frame while the client keeps sending`,
    'answers a flood of small frames': `${WITHOUT_FRONT} drops its close frame while the client keeps sending`,
    'header-only frame declaring 50 MiB': `${WITHOUT_FRONT} buffers a whole message (up to 64 MiB) before the guard sees it`,
    'an unmasked client frame': `${WITHOUT_FRONT} accepts unmasked client frames`,
    'never reads its close frame': `${WITHOUT_FRONT}: Deno's WebSocket cannot be cut (no terminate)`,
  },
});

runtimeSuite({
  name: 'hono on deno (wsguard serve)',
  runtime: 'deno',
  fixture: 'tests/integrations/fixtures/hono-deno-serve.ts',
});
