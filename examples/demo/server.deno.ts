/** `npm run start:deno`: the demo on Deno. */
import { serve } from '../../adapters/deno.ts';
import { startDemo } from './start.ts';

// The little of Deno's namespace this file uses (the project type-checks with Node's types).
declare const Deno: {
  env: { get(name: string): string | undefined };
  version: { deno: string };
  exit(code: number): never;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
};

await startDemo({
  serve,
  env: (name) => Deno.env.get(name),
  label: `Deno ${Deno.version.deno}`,
  onSignal: (stop) => {
    Deno.addSignalListener('SIGINT', stop);
    Deno.addSignalListener('SIGTERM', stop);
  },
  exit: (code) => Deno.exit(code),
});
