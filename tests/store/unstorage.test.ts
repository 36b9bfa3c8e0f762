/**
 * The unstorage store: the store contract on unstorage's memory and fs drivers (the generic path),
 * atomicity within one process, the doctor's refusal for several instances and its opt-in, a
 * demonstration that the generic path is not atomic across processes, and the atomic path taken
 * on unstorage's Redis driver (real Redis at REDIS_URL).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { createStorage, type Driver, type Storage } from 'unstorage';
import fsDriver from 'unstorage/drivers/fs';
import memoryDriver from 'unstorage/drivers/memory';
import redisDriver from 'unstorage/drivers/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createGuard, GuardConfigError, type GuardOptions } from '../../src/mod.ts';
import type { Store } from '../../src/store/contract.ts';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';
import { createUnstorageStore } from '../../src/store/unstorage.ts';
import { storeContract } from './contract.ts';
import {
  announceSkip,
  connectRedis,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
  whenReady,
} from './redis-env.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const racer = join(root, 'tests/store/fixtures/unstorage-racer.ts');

// Temp directories for the fs driver, removed after the file.
const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'wsguard-unstorage-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

// The contract on each generic driver; the racing peers are more stores on the same Storage, as
// several parts of one process would share it (they share its per-key serialisation).
const memoryStorage = createStorage({ driver: memoryDriver() });
storeContract('unstorage (memory driver)', () => createUnstorageStore({ storage: memoryStorage }), {
  peers: async () => [
    createUnstorageStore({ storage: memoryStorage }),
    createUnstorageStore({ storage: memoryStorage }),
  ],
  cleanup: () => memoryStorage.dispose(),
});

let fsStorage: Storage | undefined;
storeContract(
  'unstorage (fs driver)',
  async () => {
    fsStorage = createStorage({ driver: fsDriver({ base: await tempDir() }) });
    return createUnstorageStore({ storage: fsStorage });
  },
  {
    peers: async () => [createUnstorageStore({ storage: fsStorage! })],
    cleanup: async () => fsStorage?.dispose(),
  },
);

const ORIGIN = 'https://app.example.com';
const base: GuardOptions = { origins: [ORIGIN], allowAnonymous: true, audit: false };

describe('unstorage store: the generic path', () => {
  const drivers = {
    memory: async () => createStorage({ driver: memoryDriver() }),
    fs: async () => createStorage({ driver: fsDriver({ base: await tempDir() }) }),
  };

  for (const [driver, make] of Object.entries(drivers)) {
    describe(`within one process (${driver} driver)`, () => {
      let storage: Storage;
      let a: Store;
      let b: Store;
      beforeAll(async () => {
        storage = await make();
        a = createUnstorageStore({ storage });
        b = createUnstorageStore({ storage });
      });
      afterAll(() => storage?.dispose());

      it('gives a value to exactly one of 200 concurrent takes, over two stores', async () => {
        await a.set('ticket', 'the-one', 60_000);
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).take('ticket')),
        );
        expect(results.filter((r) => r !== undefined)).toEqual(['the-one']);
      });

      it('grants exactly 5 of 50 concurrent acquires with max 5, over two stores', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (i % 2 ? a : b).acquireLease('cap', `c${i}`, 5, 60_000),
          ),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(5);
        expect(await a.countLeases('cap')).toBe(5);
      });

      it('keeps keys apart that unstorage or a file system would fold together', async () => {
        const keys = ['ip:::1', 'ip:1', 'ip:1::', 'user:Alice', 'user:alice', 'a/b', 'a:b', '..'];
        keys.push('x?y', 'x', 'ünï', '\uD800', '');
        await Promise.all(keys.map((k, i) => a.set(k, String(i), 60_000)));
        expect(await Promise.all(keys.map((k) => a.get(k)))).toEqual(keys.map((_, i) => String(i)));
      });
    });
  }

  it('is named after the driver and not shared; the opt-in makes it shared', () => {
    const storage = createStorage({ driver: memoryDriver() });
    const store = createUnstorageStore({ storage });
    expect(store.name).toBe('unstorage:memory');
    expect(store.shared).toBe(false);
    const optedIn = createUnstorageStore({ storage, dangerouslyAllowNonAtomicSharing: true });
    expect(optedIn.shared).toBe(true);
  });

  it('refuses malformed options', () => {
    const storage = createStorage();
    expect(() => createUnstorageStore({} as never)).toThrow(TypeError);
    expect(() => createUnstorageStore({ storage, prefix: 1 as never })).toThrow(TypeError);
    expect(() => createUnstorageStore({ storage, commandTimeoutMs: 0 })).toThrow(TypeError);
  });

  it('decides expiry from the value, whatever the driver keeps', async () => {
    let now = 1_000_000;
    const storage = createStorage({ driver: memoryDriver() });
    const store = createUnstorageStore({ storage, now: () => now });
    await store.set('k', 'v', 1000);
    await store.acquireLease('l', 'a', 1, 1000);
    now += 1000;
    // The memory driver ignores TTLs: the records are still there, and read as absent.
    expect(await storage.getKeys()).toHaveLength(2);
    expect(await store.get('k')).toBeUndefined();
    expect(await store.take('k')).toBeUndefined();
    expect(await store.countLeases('l')).toBe(0);
    expect((await store.acquireLease('l', 'b', 1, 1000)).ok).toBe(true);
    // Reading an expired record removed it.
    expect(await storage.getKeys('wsguard:kv')).toEqual([]);
  });

  it('sweeps expired records nobody reads again, leaving live ones and foreign keys', async () => {
    let now = 1_000_000;
    const storage = createStorage({ driver: memoryDriver() });
    const store = createUnstorageStore({ storage, now: () => now });
    await storage.setItem('wsguard:not-ours', { e: 0 });
    for (let i = 0; i < 20; i++) await store.set(`abandoned-${i}`, 'ticket', 1000);
    now += 1000;
    // 10,000 writes (one sweep's period) on a live key start a sweep in the background.
    for (let i = 0; i < 10_000; i++) await store.set('live', String(i), 60_000);
    for (let round = 0; round < 200; round++) {
      if ((await storage.getKeys()).length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await storage.getKeys()).sort()).toEqual(['wsguard:kv:live', 'wsguard:not-ours']);
    expect(await store.get('live')).toBe('9999');
  });

  it('puts keys under the prefix, one namespace per kind', async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const store = createUnstorageStore({ storage, prefix: 'app:guard' });
    await store.set('ticket:ab', 'v', 60_000);
    await store.limit('rate:ip', { limit: 1, windowMs: 60_000 });
    await store.acquireLease('lease:u', 'c', 1, 60_000);
    await store.addScore('score:ip', 1, 60_000);
    expect((await storage.getKeys()).sort()).toEqual([
      'app:guard:kv:ticket%3Aab',
      'app:guard:lease:lease%3Au',
      'app:guard:rate:rate%3Aip',
      'app:guard:score:score%3Aip',
    ]);
  });

  it('fails closed on a value it did not write', async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const store = createUnstorageStore({ storage });
    await storage.setItem('wsguard:lease:cap', { l: 'nonsense', e: Date.now() + 60_000 });
    await storage.setItem('wsguard:kv:t', 'plain text');
    await expect(store.acquireLease('cap', 'c', 5, 1000)).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    await expect(store.take('t')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('fails closed within commandTimeoutMs on a stuck driver, and drops what was queued', async () => {
    const inner = memoryDriver();
    let stall: (() => void) | undefined;
    const stalled = new Promise<void>((resolve) => {
      stall = resolve;
    });
    let removals = 0;
    const driver: Driver = {
      ...inner,
      name: 'stuck',
      async getItem(key, opts) {
        if (key.endsWith('stuck')) await stalled;
        return inner.getItem(key, opts);
      },
      removeItem(key, opts) {
        removals++;
        return inner.removeItem?.(key, opts);
      },
    };
    const storage = createStorage({ driver });
    const store = createUnstorageStore({ storage, commandTimeoutMs: 50 });
    await store.set('stuck', 'ticket', 60_000);
    const first = store.take('stuck');
    const queued = store.take('stuck');
    await expect(first).rejects.toThrow(/take timed out after 50 ms/);
    await expect(queued).rejects.toBeInstanceOf(StoreUnavailableError);
    stall?.();
    await first.catch(() => {});
    // The first take runs to its end (it was already reading); the queued one never runs.
    expect(await store.get('stuck')).toBeUndefined();
    expect(removals).toBe(1);
    // Other keys were never blocked.
    await store.set('other', 'v', 60_000);
    expect(await store.take('other')).toBe('v');
  });

  describe('several instances', () => {
    it('createGuard with requireSharedStore refuses it at start-up, naming it', () => {
      const store = createUnstorageStore({ storage: createStorage() });
      let error: unknown;
      try {
        createGuard({ ...base, requireSharedStore: true, store });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GuardConfigError);
      expect((error as GuardConfigError).problems).toEqual([
        expect.stringContaining('"unstorage:memory" is not shared between processes'),
      ]);
    });

    it('accepts it with dangerouslyAllowNonAtomicSharing', async () => {
      const store = createUnstorageStore({
        storage: createStorage(),
        dangerouslyAllowNonAtomicSharing: true,
      });
      const guard = createGuard({ ...base, requireSharedStore: true, store });
      await guard.shutdown?.();
    });

    it('redeems a ticket twice when two instances interleave (deterministic)', async () => {
      // Two Storage objects over one driver: two instances, each serialising only its own calls.
      // The driver holds every read until both instances have read, then lets both go on: the
      // interleaving a race produces by chance, made certain.
      const inner = memoryDriver();
      let arrived: (() => void)[] = [];
      let gate = false;
      const driver: Driver = {
        ...inner,
        async getItem(key, opts) {
          const value = await inner.getItem(key, opts);
          if (gate) {
            await new Promise<void>((resolve) => {
              arrived.push(resolve);
              if (arrived.length === 2) for (const go of arrived.splice(0)) go();
            });
          }
          return value;
        },
      };
      const a = createUnstorageStore({ storage: createStorage({ driver }) });
      const b = createUnstorageStore({ storage: createStorage({ driver }) });
      await a.set('ticket', 'secret', 60_000);
      gate = true;
      const results = await Promise.all([a.take('ticket'), b.take('ticket')]);
      gate = false;
      arrived = [];
      expect(results).toEqual(['secret', 'secret']);
      // Hence the refusal: both say they are not shared.
      expect(a.shared || b.shared).toBe(false);
    });
  });

  describe('two processes racing on one fs directory', () => {
    const children: ChildProcessWithoutNullStreams[] = [];
    afterAll(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });

    const start = (dir: string, count: number) => {
      const child = spawn(tsx, [racer, dir, String(count)], { cwd: root });
      children.push(child);
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const stderr: string[] = [];
      child.stderr.on('data', (d) => stderr.push(String(d)));
      const line = async (): Promise<string> => {
        const next = await lines.next();
        if (next.done) throw new Error(`racer exited: ${stderr.join('')}`);
        return next.value;
      };
      return { child, line };
    };

    it('is not atomic across processes: the opt-in is required', async () => {
      const count = 300;
      const dir = await tempDir();
      const storage = createStorage({ driver: fsDriver({ base: dir }) });
      const store = createUnstorageStore({ storage });
      const racers = [start(dir, count), start(dir, count)];
      for (const r of racers) expect(await r.line()).toBe('ready');
      for (let i = 0; i < count; i++) await store.set(`t${i}`, `ticket-${i}`, 60_000);
      for (const r of racers) r.child.stdin.write('go\n');
      const won = await Promise.all(
        racers.map(async (r) => (JSON.parse(await r.line()) as { won: number[] }).won),
      );
      const total = won[0]!.length + won[1]!.length;
      const doubled = won[0]!.filter((i) => won[1]!.includes(i)).length;
      console.info(
        `unstorage generic path, two processes on the fs driver: ${count} tickets redeemed ${total} times (${doubled} twice)`,
      );
      // Every ticket was redeemed at least once; how many twice depends on the run. Whatever it
      // is, nothing in the store can prevent it, so the store must not call itself shared.
      expect(new Set([...won[0]!, ...won[1]!]).size).toBe(count);
      expect(total).toBeGreaterThanOrEqual(count);
      expect(store.shared).toBe(false);
      expect(() => createGuard({ ...base, requireSharedStore: true, store })).toThrow(
        GuardConfigError,
      );
      await storage.dispose();
    }, 30_000);
  });
});

const skip = await redisSkipReason();
announceSkip('tests/store/unstorage.test.ts (Redis driver)', skip);

describe.skipIf(skip !== undefined)(
  `unstorage store on the Redis driver${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('unstorage');
    const storages: Storage[] = [];
    let redis: Redis;

    const open = async (): Promise<Storage> => {
      const storage = createStorage({
        driver: redisDriver({ url: REDIS_URL, base: `${prefix}app`, ...REDIS_CLIENT_OPTIONS }),
      });
      const client = storage.getMount('').driver.getInstance?.() as Redis;
      client.on('error', () => {});
      await whenReady(client);
      storages.push(storage);
      return storage;
    };

    beforeAll(async () => {
      redis = await connectRedis();
    });
    afterAll(async () => {
      for (const s of storages.splice(0)) await s.dispose();
      if (!redis) return;
      await deletePrefix(redis, prefix);
      await redis.quit();
    });

    it('takes the atomic path: shared, keys under the driver base, one take wins across instances', async () => {
      const [one, two] = [await open(), await open()];
      const a = createUnstorageStore({ storage: one });
      const b = createUnstorageStore({ storage: two });
      expect(a.name).toBe('redis');
      expect(a.shared).toBe(true);
      expect(() => createGuard({ ...base, requireSharedStore: true, store: a })).not.toThrow();
      for (let i = 0; i < 50; i++) await a.set(`t${i}`, `ticket-${i}`, 60_000);
      expect(await redis.get(`${prefix}app:wsguard:t0`)).toBe('ticket-0');
      // Each ticket raced by both instances, four callers each.
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).take(`t${i % 50}`)),
      );
      const won = results.filter((r) => r !== undefined);
      expect(won).toHaveLength(50);
      expect(new Set(won).size).toBe(50);
    });

    it('caps hold across instances', async () => {
      const [one, two] = [await open(), await open()];
      const a = createUnstorageStore({ storage: one, prefix: 'caps' });
      const b = createUnstorageStore({ storage: two, prefix: 'caps' });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? a : b).acquireLease('cap', `c${i}`, 5, 60_000),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(5);
      expect(await redis.zcard(`${prefix}app:caps:{cap}:exp`)).toBe(5);
    });
  },
);
