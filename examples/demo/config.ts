/**
 * The demo's configuration from the environment (DESIGN.md): PORT (8787), HOST (127.0.0.1),
 * WSGUARD_ORIGINS (comma list, added to the server's own origin), WSGUARD_SECRET (generated at
 * start when unset), WSGUARD_TOKEN_TTL (seconds, 900), WSGUARD_METRICS_TOKEN (the bearer token
 * `/metrics` asks for, ≥ 32 characters; generated and printed at start when unset), REDIS_URL
 * (switches the store to Redis).
 * Each runtime's server passes its own way of reading the environment.
 */
import type { Store } from '../../src/mod.ts';
import { createRedisStore, REDIS_CLIENT_OPTIONS } from '../../src/redis.ts';
import { DEMO_USERS } from './app.ts';

/** The demo's settings. */
export interface DemoConfig {
  readonly port: number;
  readonly host: string;
  readonly origins: string[];
  readonly secret: string;
  readonly tokenTtlSec: number;
  /** The bearer token for `/metrics`. */
  readonly metricsToken: string;
  /** Whether {@link DemoConfig.metricsToken} was generated (then the banner shows it). */
  readonly metricsTokenGenerated: boolean;
  readonly redisUrl: string | undefined;
}

function randomSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

/** Read the settings; throws with a clear message on a bad value. */
export function readConfig(env: (name: string) => string | undefined): DemoConfig {
  const port = Number(env('PORT') ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT: ${env('PORT')} is not a port`);
  const host = env('HOST') ?? '127.0.0.1';
  const own = (h: string): string => `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  const origins = new Set<string>([own(host)]);
  // A browser on this machine may say localhost or 127.0.0.1 for the same server.
  if (host === '127.0.0.1' || host === 'localhost') {
    origins.add(own('127.0.0.1'));
    origins.add(own('localhost'));
  }
  for (const o of (env('WSGUARD_ORIGINS') ?? '').split(',')) if (o.trim()) origins.add(o.trim());
  const ttl = Number(env('WSGUARD_TOKEN_TTL') ?? 900);
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > 86_400)
    throw new Error('WSGUARD_TOKEN_TTL: seconds between 2 and 86400');
  const metricsToken = env('WSGUARD_METRICS_TOKEN') || undefined;
  if (metricsToken !== undefined && !/^[\x21-\x7e]{32,8192}$/.test(metricsToken))
    throw new Error(
      'WSGUARD_METRICS_TOKEN: 32 or more visible ASCII characters (e.g. `openssl rand -hex 32`)',
    );
  return {
    port,
    host,
    origins: [...origins],
    secret: env('WSGUARD_SECRET') ?? randomSecret(),
    tokenTtlSec: ttl,
    metricsToken: metricsToken ?? randomSecret(),
    metricsTokenGenerated: metricsToken === undefined,
    redisUrl: env('REDIS_URL') || undefined,
  };
}

/** The Redis store when REDIS_URL is set (ioredis is an optional peer dependency). */
export async function storeFor(config: DemoConfig): Promise<Store | undefined> {
  if (!config.redisUrl) return undefined;
  const { Redis } = await import('ioredis');
  const client = new Redis(config.redisUrl, REDIS_CLIENT_OPTIONS);
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error(`REDIS_URL: cannot reach ${config.redisUrl}`)));
  });
  return createRedisStore({ client, ownsClient: true });
}

/** The start-up banner. */
export function banner(url: string, config: DemoConfig, runtime: string): string {
  return [
    `wsguard demo (${runtime}) on ${url}`,
    `  store: ${config.redisUrl ? `redis (${config.redisUrl.replace(/\/\/[^@]*@/, '//***@')})` : 'memory'}`,
    `  origins: ${config.origins.join(', ')}`,
    `  demo users (password = user name): ${Object.entries(DEMO_USERS)
      .map(([u, r]) => `${u} (${r.join(', ')})`)
      .join(', ')}`,
    // The metrics tell whoever reads them how an attack is going: they need the token.
    `  metrics: curl -H 'authorization: Bearer ${
      config.metricsTokenGenerated ? config.metricsToken : '$WSGUARD_METRICS_TOKEN'
    }' ${url}/metrics${config.metricsTokenGenerated ? ' (token generated; set WSGUARD_METRICS_TOKEN to choose it)' : ''}`,
  ].join('\n');
}
