/** `npm run start:bun`: the demo on Bun. */
import { serve } from '../../adapters/bun.ts';
import { trpcHooks } from '../../src/trpc.ts';
import { createDemoApp } from './app.ts';
import { buildAssets } from './build.ts';
import { banner, readConfig, storeFor } from './config.ts';

const config = readConfig((name) => process.env[name]);
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
console.log(banner(server.url, config, `Bun ${process.versions.bun}`));

const stop = async (): Promise<void> => {
  app.bridge.broadcastReconnect();
  await server.close();
  await store?.close?.();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
