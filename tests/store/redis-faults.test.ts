/**
 * The Redis store when Redis is not well: dead, cut off, stalled, restarted. Every store
 * operation must then reject with StoreUnavailableError within the command timeout (asserted by
 * error type and by bounded test timeouts, never by measuring time), the guard must answer 503
 * with Retry-After, and the same store object must serve again once Redis is back. Also: three
 * real processes race on one Redis for the same tickets, and each ticket is redeemed once.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { createTickets } from '../../src/auth/tickets.ts';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createGuard } from '../../src/guard/create-guard.ts';
import type { Guard, Reject } from '../../src/guard/types.ts';
import type { Store } from '../../src/store/contract.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  eventually,
  pingRedis,
  REDIS_URL,
  redisServerSkipReason,
  redisSkipReason,
  uniquePrefix,
} from './redis-env.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const skip = await redisSkipReason();
announceSkip('tests/store/redis-faults.test.ts', skip);
const noServer = redisServerSkipReason();
announceSkip('tests/store/redis-faults.test.ts (restart)', noServer);

const ORIGIN = 'https://app.example.com';
const alice: Principal = { sub: 'alice', roles: ['user'], permissions: [] };
const _sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every store operation, each expected to fail the same way when Redis is unreachable. */
const everyOp = (store: Store): Record<string, () => Promise<unknown>> => ({
  set: () => store.set('k', 'v', 1000),
  get: () => store.get('k'),
  delete: () => store.delete('k'),
  take: () => store.take('k'),
  limit: () => store.limit('r', { limit: 5, windowMs: 1000 }),
  acquireLease: () => store.acquireLease('l', 'a', 5, 1000),
  renewLeases: () => store.renewLeases('l', ['a'], 1000),
  releaseLease: () => store.releaseLease('l', 'a'),
  countLeases: () => store.countLeases('l'),
  addScore: () => store.addScore('s', 1, 1000),
});

async function expectAllUnavailable(store: Store, message?: RegExp): Promise<void> {
  for (const [name, op] of Object.entries(everyOp(store))) {
    const error = await op().then(
      () => new Error(`${name} succeeded against an unreachable Redis`),
      (e: unknown) => e,
    );
    expect(error, name).toBeInstanceOf(StoreUnavailableError);
    if (message) expect((error as Error).message, name).toMatch(message);
  }
}

async function expectAllServe(store: Store): Promise<void> {
  await store.set('k', 'v', 10_000);
  expect(await store.get('k')).toBe('v');
  expect(await store.take('k')).toBe('v');
  await store.delete('k');
  expect(
    (await store.limit(`r:${crypto.randomUUID()}`, { limit: 5, windowMs: 1000 })).allowed,
  ).toBe(true);
  const lease = `l:${crypto.randomUUID()}`;
  expect((await store.acquireLease(lease, 'a', 5, 10_000)).ok).toBe(true);
  await store.renewLeases(lease, ['a'], 10_000);
  expect(await store.countLeases(lease)).toBe(1);
  await store.releaseLease(lease, 'a');
  expect(await store.addScore(`s:${crypto.randomUUID()}`, 2, 10_000)).toBe(2);
}

/** A loopback port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

function ticketRequest(ticket: string): Request {
  return new Request(`http://localhost/ws?ticket=${ticket}`, { headers: { origin: ORIGIN } });
}

function guardOver(store: Store, errors: unknown[]): Guard {
  return createGuard({
    origins: [ORIGIN],
    tickets: true,
    store,
    audit: false,
    onError: (error) => errors.push(error),
  });
}

function expect503(decision: Awaited<ReturnType<Guard['upgrade']>>): void {
  expect(decision.ok).toBe(false);
  const r = decision as Reject;
  expect(r.reason).toBe('store_unavailable');
  expect(r.status).toBe(503);
  expect(r.closeCode).toBe(1013);
  expect(r.retryAfter).toBe(5);
}

describe('a Redis that does not answer (dead port)', () => {
  const clients: Redis[] = [];
  afterAll(() => {
    // Flushes whatever ioredis still queues; the store has already observed those promises.
    for (const c of clients) c.disconnect();
  });

  const clientOn = async (options: object): Promise<Redis> => {
    const client = new Redis({ host: '127.0.0.1', port: await deadPort(), ...options });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  it('rejects every op with StoreUnavailableError (recommended client options)', async () => {
    const store = createRedisStore({
      client: await clientOn(REDIS_CLIENT_OPTIONS),
      commandTimeoutMs: 200,
    });
    await expectAllUnavailable(store);
  }, 10_000);

  it('bounds every op by commandTimeoutMs even with ioredis defaults (offline queue, retries)', async () => {
    // ioredis alone would hold these commands for ~20 reconnect attempts (about 10 s).
    const store = createRedisStore({ client: await clientOn({}), commandTimeoutMs: 100 });
    await expectAllUnavailable(store, /timed out after 100 ms/);
  }, 10_000);

  it('makes the guard answer 503 store_unavailable with Retry-After', async () => {
    const errors: unknown[] = [];
    const store = createRedisStore({ client: await clientOn({}), commandTimeoutMs: 100 });
    const guard = guardOver(store, errors);
    expect503(await guard.upgrade({ request: ticketRequest('a'.repeat(43)), ip: '192.0.2.1' }));
    await expect(guard.issueTicket(alice)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(errors.some((e) => e instanceof StoreUnavailableError)).toBe(true);
    await guard.shutdown();
  }, 10_000);
});

describe.skipIf(skip !== undefined)(
  `Redis behind a proxy that is cut, then restored${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('faults');
    let proxy: TcpProxy;
    let client: Redis;
    let direct: Redis;
    let store: Store;

    beforeAll(async () => {
      const target = new URL(REDIS_URL);
      proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
      const viaProxy = new URL(REDIS_URL);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      client = await connectRedis(viaProxy.toString());
      direct = await connectRedis();
      store = createRedisStore({ client, prefix, commandTimeoutMs: 200 });
    });
    afterAll(async () => {
      client?.disconnect();
      await proxy?.close();
      if (direct) {
        await deletePrefix(direct, prefix);
        await direct.quit();
      }
    });

    it('refuses clearly while cut off, then serves again with the same store', async () => {
      const errors: unknown[] = [];
      const guard = guardOver(store, errors);
      await expectAllServe(store);
      const before = await guard.issueTicket(alice, { origin: ORIGIN });

      await proxy.cut();
      await expectAllUnavailable(store);
      expect503(await guard.upgrade({ request: ticketRequest(before.ticket), ip: '192.0.2.2' }));

      await proxy.restore();
      await eventually(() => store.get('probe'));
      await expectAllServe(store);
      // The outage refused the handshake before the ticket was touched: it still redeems, once.
      const accepted = await guard.upgrade({
        request: ticketRequest(before.ticket),
        ip: '192.0.2.2',
      });
      expect(accepted.ok).toBe(true);
      const again = await guard.upgrade({ request: ticketRequest(before.ticket), ip: '192.0.2.2' });
      expect(again.ok).toBe(false);
      const fresh = await guard.issueTicket(alice, { origin: ORIGIN });
      expect(
        (await guard.upgrade({ request: ticketRequest(fresh.ticket), ip: '192.0.2.2' })).ok,
      ).toBe(true);
      await guard.shutdown();
    }, 20_000);

    it('times out on a stalled Redis (connected, silent), then resumes', async () => {
      await expectAllServe(store);
      proxy.stall();
      try {
        await expectAllUnavailable(store, /timed out after 200 ms/);
      } finally {
        proxy.resume();
      }
      await eventually(() => expectAllServe(store));
    }, 20_000);
  },
);

describe.skipIf(noServer !== undefined)(
  `a Redis server killed and started again${noServer ? ` (did not run: ${noServer})` : ''}`,
  () => {
    let port: number;
    let server: ReturnType<typeof spawn> | undefined;
    let client: Redis;

    const startServer = async (): Promise<void> => {
      server = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { cwd: tmpdir(), stdio: 'ignore' },
      );
      const url = `redis://127.0.0.1:${port}`;
      await eventually(async () => {
        if (!(await pingRedis(url, 200))) throw new Error('redis-server not up yet');
      }, 50);
    };
    const killServer = async (): Promise<void> => {
      const s = server;
      server = undefined;
      if (!s || s.exitCode !== null) return;
      const exited = new Promise((resolve) => s.once('exit', resolve));
      s.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      port = await deadPort();
      await startServer();
      client = await connectRedis(`redis://127.0.0.1:${port}`);
    });
    afterAll(async () => {
      client?.disconnect();
      await killServer();
    });

    it('fails closed while down; after the restart reloads its scripts and serves', async () => {
      const calls: string[] = [];
      const recording = {
        call: (command: string, ...args: (string | number)[]): Promise<unknown> => {
          calls.push(command);
          return client.call(command, ...args);
        },
      };
      const store = createRedisStore({ client: recording, commandTimeoutMs: 200 });
      await expectAllServe(store);

      await killServer();
      await expectAllUnavailable(store);

      await startServer();
      await eventually(() => store.get('probe'));
      calls.length = 0;
      await expectAllServe(store);
      // The new server had an empty script cache: each of the six scripts missed once
      // (NOSCRIPT), was sent in full (EVAL, which cached it again), and runs by SHA from then on.
      expect(calls.filter((c) => c === 'EVAL')).toHaveLength(6);
      calls.length = 0;
      await expectAllServe(store);
      expect(calls).not.toContain('EVAL');
    }, 25_000);
  },
);

describe.skipIf(skip !== undefined)(
  `three processes race for the same 2,000 tickets${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('race');
    const children: ChildProcessWithoutNullStreams[] = [];
    let redis: Redis;
    let file: string | undefined;

    beforeAll(async () => {
      redis = await connectRedis();
    });
    afterEach(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });
    afterAll(async () => {
      if (file) await rm(file, { force: true });
      if (redis) {
        await deletePrefix(redis, prefix);
        await redis.quit();
      }
    });

    it('redeems every ticket exactly once across the three', async () => {
      const root = fileURLToPath(new URL('../../', import.meta.url));
      const tsx = join(root, 'node_modules/.bin/tsx');
      const racer = join(root, 'tests/store/fixtures/ticket-racer.ts');

      const results = Array.from({ length: 3 }, (_, i) => {
        const child = spawn(tsx, [racer, REDIS_URL, prefix, String(i + 1)], { cwd: root });
        children.push(child);
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += String(d);
        });
        const lines = createInterface({ input: child.stdout });
        const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
        const done = new Promise<{ won: number[]; lost: number; errors: number }>(
          (resolve, reject) => {
            lines.on('line', (line) => {
              if (line.startsWith('{')) resolve(JSON.parse(line));
            });
            child.once('exit', (code) =>
              reject(new Error(`racer ${i + 1} exited with ${code}: ${stderr.slice(0, 500)}`)),
            );
          },
        );
        done.catch(() => {});
        return { child, ready, done };
      });
      await Promise.all(results.map((r) => r.ready));

      // Issued after the racers are up, so no ticket nears its TTL during the race.
      const tickets = createTickets(createRedisStore({ client: redis, prefix }), {
        ttlMs: 30_000,
      });
      const issued: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const some = await Promise.all(
          Array.from({ length: 200 }, () => tickets.issue(alice).then((t) => t.ticket)),
        );
        issued.push(...some);
      }
      file = join(tmpdir(), `wsguard-race-${crypto.randomUUID()}.json`);
      await writeFile(file, JSON.stringify(issued));
      for (const r of results) r.child.stdin.end(`${file}\n`);

      const outcomes = await Promise.all(results.map((r) => r.done));
      const won = outcomes.flatMap((o) => o.won);
      expect(outcomes.map((o) => o.errors)).toEqual([0, 0, 0]);
      expect(won).toHaveLength(2000);
      expect(new Set(won).size).toBe(2000);
      expect(outcomes.reduce((n, o) => n + o.lost, 0)).toBe(4000);
    }, 30_000);
  },
);
