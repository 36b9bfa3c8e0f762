/** The shared end-to-end suite against h3 v2 on Node (h3's `serve` via srvx, `adapters/h3.ts`). */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'h3 on node',
  runtime: 'node',
  fixture: 'tests/integrations/fixtures/h3-server.ts',
});
