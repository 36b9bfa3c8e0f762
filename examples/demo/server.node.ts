/** `npm start`: the demo on Node. */
import { serve } from '../../adapters/node.ts';
import { startDemo } from './start.ts';

await startDemo({
  serve,
  env: (name) => process.env[name],
  label: `Node ${process.version}`,
  onSignal: (stop) => {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  exit: (code) => process.exit(code),
});
