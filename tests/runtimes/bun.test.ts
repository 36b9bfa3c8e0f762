/** The runtime suite against a real fixture server running under Bun. */
import { runtimeSuite } from './suite.ts';

runtimeSuite('bun');
