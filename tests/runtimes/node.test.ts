/** The runtime suite against a real fixture server running under Node. */
import { runtimeSuite } from './suite.ts';

runtimeSuite('node');
