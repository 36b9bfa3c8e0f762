/** The shared end-to-end suite against an existing `ws` app guarded by `adapters/ws.ts` on Node. */
import { runtimeSuite } from '../runtimes/suite.ts';

runtimeSuite({
  name: 'ws',
  runtime: 'node',
  fixture: 'tests/integrations/fixtures/ws-server.ts',
});
