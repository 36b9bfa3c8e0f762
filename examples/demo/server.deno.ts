/** `npm run start:deno`: the demo on Deno. */
import { serve } from '../../adapters/deno.ts';
import { trpcHooks } from '../../src/trpc.ts';
import { createDemoApp } from './app.ts';
import { buildAssets } from './build.ts';
import { banner, readConfig, storeFor } from './config.ts';

// The little of Deno's namespace this file uses (the project type-checks with Node's types).
declare const Deno: {
  env: { get(name: string): string | undefined };
  version: { deno: string };
  exit(code: number): never;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
};

const config = readConfig((name) => Deno.env.get(name));
const store = await storeFor(config);
const app = createDemoApp({ ...config, assets: await buildAssets(), ...(store ? { store } : {}) });
const server = await serve({
  guard: app.guard,
  hooks: trpcHooks(app.bridge),
  fetch: (request, client) => app.fetch(request, client.ip),
  port: config.port,
  hostname: config.host,
  hookOptions: { path: '/ws' },
});
console.log(banner(server.url, config, `Deno ${Deno.version.deno}`));

const stop = async (): Promise<void> => {
  app.bridge.broadcastReconnect();
  await server.close();
  await store?.close?.();
  Deno.exit(0);
};
Deno.addSignalListener('SIGINT', stop);
Deno.addSignalListener('SIGTERM', stop);
