/** The tRPC suite against a real fixture server running under Node. */
import { trpcRuntimeSuite } from './suite.ts';

trpcRuntimeSuite('node');
