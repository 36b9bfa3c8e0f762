/**
 * The demo's configuration from the environment (DESIGN.md): PORT (8787), HOST (127.0.0.1),
 * WSGUARD_ORIGINS (comma list, added to the server's own origin), WSGUARD_SECRET (generated at
 * start when unset), WSGUARD_TOKEN_TTL (seconds, 900), WSGUARD_METRICS_TOKEN (the bearer token
 * `/metrics` asks for, ≥ 32 characters; generated and printed at start when unset), REDIS_URL
 * (switches the store and the chat to Redis, shared by every instance started with it),
 * WSGUARD_STORE_PREFIX (the store's keys, `wsguard:`) and WSGUARD_FEED_PREFIX (the chat's
 * streams, `wsguard-demo:{feed}:`), one pair per deployment sharing a Redis.
 * Each runtime's server passes its own way of reading the environment.
 */
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
  /** Prefix of the guard store's keys in Redis. */
  readonly storePrefix: string;
  /** Prefix of the chat's streams in Redis, with a hash tag (one slot on Redis Cluster). */
  readonly feedPrefix: string;
}

/** Prefixes are key names: visible ASCII, short. */
const PREFIX = /^[\x21-\x7e]{1,128}$/;
// The feed reads every room this instance follows in one XREAD, which Redis Cluster allows only
// within one slot: the hash tag (the text between the first `{` and the next `}`) pins them there.
const HASH_TAG = /^[^{]*\{[^}]+\}/;

function prefixes(env: (name: string) => string | undefined): {
  storePrefix: string;
  feedPrefix: string;
} {
  const storePrefix = env('WSGUARD_STORE_PREFIX') || 'wsguard:';
  if (!PREFIX.test(storePrefix))
    throw new Error('WSGUARD_STORE_PREFIX: 1 to 128 visible ASCII characters');
  const feedPrefix = env('WSGUARD_FEED_PREFIX') || 'wsguard-demo:{feed}:';
  if (!PREFIX.test(feedPrefix) || !HASH_TAG.test(feedPrefix))
    throw new Error(
      'WSGUARD_FEED_PREFIX: 1 to 128 visible ASCII characters with a hash tag, e.g. `my-demo:{feed}:`',
    );
  return { storePrefix, feedPrefix };
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
    ...prefixes(env),
  };
}

/** The start-up banner. */
export function banner(url: string, config: DemoConfig, runtime: string): string {
  return [
    `wsguard demo (${runtime}) on ${url}`,
    `  store and chat: ${
      config.redisUrl
        ? `redis (${config.redisUrl.replace(/\/\/[^@]*@/, '//***@')}, ${config.storePrefix}, ${config.feedPrefix})`
        : 'memory (this instance only)'
    }`,
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
