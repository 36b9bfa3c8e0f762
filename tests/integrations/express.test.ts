/** The shared end-to-end suite against the Express 5 integration (`adapters/express.ts`) on Node. */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'express',
  runtime: 'node',
  fixture: 'tests/integrations/fixtures/express-server.ts',
});
