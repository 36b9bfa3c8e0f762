/** The tRPC suite against a real fixture server running under Bun. */
import { trpcRuntimeSuite } from './suite.ts';

trpcRuntimeSuite('bun');
