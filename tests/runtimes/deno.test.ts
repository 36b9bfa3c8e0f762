/** The runtime suite against a real fixture server running under Deno. */
import { runtimeSuite } from './suite.ts';

runtimeSuite('deno');
