/** The shared end-to-end suite against Elysia on Bun (`adapters/elysia.ts`). */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'elysia on bun',
  runtime: 'bun',
  fixture: 'tests/integrations/fixtures/elysia-server.ts',
});
