/** The tRPC suite against a real fixture server running under Deno. */
import { trpcRuntimeSuite } from './suite.ts';

trpcRuntimeSuite('deno');
