/**
 * Where the Redis tests find Redis, and how they say so when there is none. With `REDIS_URL` set
 * the suites always run (CI: a missing Redis must fail, not skip). Without it they probe
 * 127.0.0.1:6379; if nothing answers, each Redis suite is skipped with the reason in its title and
 * a plain "Redis suite did not run: …" line, never silently.
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';

/** The Redis the tests use. */
export const REDIS_URL: string = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Resolves true when a Redis answers PING at `url` within `timeoutMs`. */
export function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(u.port || 6379), u.hostname.replace(/^\[|\]$/g, ''));
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    // A server with AUTH answers -NOAUTH: it is there, and the client will authenticate.
    socket.on('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(String(d))));
  });
}

/** Why the Redis suites cannot run here, or `undefined` when they can (or must: REDIS_URL set). */
export async function redisSkipReason(): Promise<string | undefined> {
  if (process.env['REDIS_URL']) return undefined;
  if (await pingRedis(REDIS_URL)) return undefined;
  return `REDIS_URL is unset and nothing answers PING at ${REDIS_URL}; start Redis or set REDIS_URL`;
}

/** Print the plain notice when a Redis suite is skipped. */
export function announceSkip(suite: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`Redis suite did not run: ${suite}: ${reason}`);
}

/** A unique key prefix per test run, so runs never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `wsguard-test:${label}:${process.pid}:${crypto.randomUUID().slice(0, 8)}:`;
}

/**
 * An ioredis client with the recommended options and an error listener (connection errors are
 * events; unobserved they would be logged by ioredis on every reconnect attempt), ready to use.
 */
export async function connectRedis(
  url: string = REDIS_URL,
  extra: RedisOptions = {},
  onError: (error: Error) => void = () => {},
): Promise<Redis> {
  const client = new Redis(url, { ...REDIS_CLIENT_OPTIONS, ...extra });
  client.on('error', onError);
  await whenReady(client);
  return client;
}

/** Resolves once `client` is ready (at most 5 s): without the offline queue, earlier commands fail. */
export async function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis client not ready within 5 s')), 5000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Delete every key under `prefix` (bounded SCAN). */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let round = 0; round < 10_000; round++) {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

/** Why a test that starts its own `redis-server` cannot run here, or `undefined` when it can. */
export function redisServerSkipReason(): string | undefined {
  return spawnSync('redis-server', ['--version']).status === 0
    ? undefined
    : 'no redis-server binary on PATH';
}

/** Retry `op` until it succeeds: at most `attempts` times, `everyMs` apart (bounded). */
export async function eventually<T>(
  op: () => Promise<T>,
  attempts = 100,
  everyMs = 100,
): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await op();
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
  throw last;
}
