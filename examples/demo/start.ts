/**
 * What every runtime's demo server does once it has its adapter: read the settings, build the
 * app, serve it, print the banner, and shut down gracefully (reconnect notice, 1001, feeds,
 * store).
 */
import type { GuardedServer, ServeOptions } from '../../src/transport/serve.ts';
import { trpcHooks } from '../../src/trpc.ts';
import { createDemoApp } from './app.ts';
import { backendFor } from './backend.ts';
import { buildAssets } from './build.ts';
import { banner, readConfig } from './config.ts';

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
  const backend = await backendFor(config);
  const app = createDemoApp({
    ...config,
    assets: await buildAssets(),
    ...(backend.store ? { store: backend.store } : {}),
    ...(backend.chat ? { chat: backend.chat } : {}),
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
    // The feed after the sockets: closed first, it would end live subscriptions as completed,
    // and the pages would not resume on the next instance.
    await backend.close();
    runtime.exit(0);
  });
}
