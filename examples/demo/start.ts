/**
 * What every runtime's demo server does once it has its adapter: read the settings, build the
 * app, serve it, print the banner, and shut down gracefully (reconnect notice, 1001, store).
 */
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import { trpcHooks } from '../../src/trpc.ts';
import { createDemoApp } from './app.ts';
import { buildAssets } from './build.ts';
import { banner, readConfig, storeFor } from './config.ts';

/** The runtime specifics a demo server passes in. */
export interface RuntimeBinding {
  readonly serve: (options: ServeOptions) => Promise<GuardedServer>;
  readonly env: (name: string) => string | undefined;
  readonly label: string;
  readonly onSignal: (stop: () => Promise<void>) => void;
  readonly exit: (code: number) => void;
}

/** Start the demo on one runtime. */
export async function startDemo(runtime: RuntimeBinding): Promise<void> {
  const config = readConfig(runtime.env);
  const store = await storeFor(config);
  const app = createDemoApp({
    ...config,
    assets: await buildAssets(),
    ...(store ? { store } : {}),
  });
  const server = await runtime.serve({
    guard: app.guard,
    hooks: trpcHooks(app.bridge),
    fetch: (request, client) => app.fetch(request, client.ip),
    port: config.port,
    hostname: config.host,
    hookOptions: { path: '/ws' },
  });
  console.log(banner(server.url, config, runtime.label));
  runtime.onSignal(async () => {
    app.bridge.broadcastReconnect();
    await server.close();
    await store?.close?.();
    runtime.exit(0);
  });
}
