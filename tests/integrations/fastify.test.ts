/** The shared end-to-end suite against the Fastify 5 plugin (`adapters/fastify.ts`) on Node. */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'fastify',
  runtime: 'node',
  fixture: 'tests/integrations/fixtures/fastify-server.ts',
});
