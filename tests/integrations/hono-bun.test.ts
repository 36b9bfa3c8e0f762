/** The shared end-to-end suite against Hono on Bun (`Bun.serve`, `adapters/hono.ts`). */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'hono on bun',
  runtime: 'bun',
  fixture: 'tests/integrations/fixtures/hono-bun-server.ts',
});
