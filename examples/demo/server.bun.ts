/** `npm run start:bun`: the demo on Bun. */
import { serve } from '../../adapters/bun.ts';
import { startDemo } from './start.ts';

await startDemo({
  serve,
  env: (name) => process.env[name],
  label: `Bun ${process.versions.bun}`,
  onSignal: (stop) => {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  exit: (code) => process.exit(code),
});
