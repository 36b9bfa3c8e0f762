/** The shared end-to-end suite against Hono on Node (`@hono/node-server`, `adapters/hono.ts`). */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'hono on node',
  runtime: 'node',
  fixture: 'tests/integrations/fixtures/hono-node-server.ts',
});
