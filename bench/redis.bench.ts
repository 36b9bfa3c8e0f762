/**
 * The Redis store against the memory store, in one run on one machine: ticket redemption latency
 * (p50/p90/p99/max, one redemption in flight at a time, as a handshake sees it), `limit()`
 * throughput (one in flight, and 64 in flight over one connection), and full handshakes per
 * second through `guard.upgrade` + `guard.close` with tickets.
 *
 *   node_modules/.bin/tsx bench/redis.bench.ts          # REDIS_URL, default redis://127.0.0.1:6379
 *
 * `BENCH_SCALE` (default 1) multiplies the operation counts. Stores alternate in rounds, so drift
 * on a shared machine falls on both alike. Keys live under a unique prefix, deleted at the end.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import { createStorage } from 'unstorage';
import redisDriver from 'unstorage/drivers/redis';
import type { Principal } from '../src/auth/principal.ts';
import { createTickets } from '../src/auth/tickets.ts';
import { createGuard } from '../src/guard/create-guard.ts';
import type { Guard } from '../src/guard/types.ts';
import type { Store } from '../src/store/contract.ts';
import { createMemoryStore } from '../src/store/memory.ts';
import { createRedisStore } from '../src/store/redis.ts';
import { REDIS_CLIENT_OPTIONS } from '../src/store/redis-client.ts';
import { redisStoreFromUnstorage } from '../src/store/redis-unstorage.ts';

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const scale = Math.max(0.1, Number(process.env['BENCH_SCALE'] ?? 1) || 1);
const ROUNDS = 10;
const prefix = `wsguard-bench:${process.pid}:${crypto.randomUUID().slice(0, 8)}:`;
const principal: Principal = { sub: 'bench-user', roles: ['user'], permissions: [] };
const ORIGIN = 'https://app.example.com';

const redis = new Redis(url, REDIS_CLIENT_OPTIONS);
redis.on('error', (error) => console.error(`[redis] ${error.message}`));
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no Redis ready at ${url} within 5 s`)), 5000);
  redis.once('ready', () => {
    clearTimeout(timer);
    resolve();
  });
});

const stores: Record<'memory' | 'redis', Store> = {
  memory: createMemoryStore(),
  redis: createRedisStore({ client: redis, prefix }),
};
const names = ['memory', 'redis'] as const;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
const rate = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Sequential latencies of `op` over `items`, in ms. */
async function latencies<T>(
  items: readonly T[],
  op: (item: T) => Promise<unknown>,
): Promise<number[]> {
  const out: number[] = [];
  for (const item of items) {
    const start = performance.now();
    await op(item);
    out.push(performance.now() - start);
  }
  return out;
}

async function ticketLatency(): Promise<void> {
  const perRound = Math.round(2000 * scale);
  const redeem: Record<string, number[]> = { memory: [], redis: [] };
  const take: Record<string, number[]> = { memory: [], redis: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const store = stores[name];
      const tickets = createTickets(store, { ttlMs: 30_000 });
      const issued = await Promise.all(
        Array.from({ length: perRound }, () => tickets.issue(principal).then((t) => t.ticket)),
      );
      const times = await latencies(issued, (t) => tickets.redeem(t));
      if (round > 0) redeem[name]!.push(...times); // round 0 warms up (script load, JIT)
      const keys = Array.from({ length: perRound }, (_, i) => `take:${round}:${i}`);
      await Promise.all(keys.map((k) => store.set(k, 'v', 30_000)));
      const t2 = await latencies(keys, (k) => store.take(k));
      if (round > 0) take[name]!.push(...t2);
    }
  }
  console.log('### Ticket redemption latency (one in flight)\n');
  console.log('| operation | store | p50 | p90 | p99 | max | samples |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [label, data] of [
    ['`tickets.redeem` (SHA-256 + take + JSON)', redeem],
    ['`store.take` (GETDEL)', take],
  ] as const) {
    for (const name of names) {
      const sorted = [...data[name]!].sort((a, b) => a - b);
      console.log(
        `| ${label} | ${name} | ${us(percentile(sorted, 50))} | ${us(percentile(sorted, 90))} | ` +
          `${us(percentile(sorted, 99))} | ${us(sorted.at(-1) ?? Number.NaN)} | ${sorted.length} |`,
      );
    }
  }
  console.log();
}

async function limitThroughput(): Promise<void> {
  const perRound = Math.round(5000 * scale);
  const rule = { limit: 1_000_000, windowMs: 1000 };
  const result: Record<string, { seq: number[]; par: number[] }> = {
    memory: { seq: [], par: [] },
    redis: { seq: [], par: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const store = stores[name];
      let start = performance.now();
      for (let i = 0; i < perRound; i++) await store.limit(`rate:${i % 1000}`, rule);
      const seq = perRound / ((performance.now() - start) / 1000);
      start = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < perRound) await store.limit(`rate:${next++ % 1000}`, rule);
        }),
      );
      const par = perRound / ((performance.now() - start) / 1000);
      if (round > 0) {
        result[name]!.seq.push(seq);
        result[name]!.par.push(par);
      }
    }
  }
  const median = (xs: number[]): number =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  console.log('### `limit()` throughput (GCRA; Redis: one Lua script per call)\n');
  console.log('| store | one in flight, ops/s | 64 in flight, ops/s |');
  console.log('| --- | ---: | ---: |');
  for (const name of names) {
    console.log(
      `| ${name} | ${rate(median(result[name]!.seq))} | ${rate(median(result[name]!.par))} |`,
    );
  }
  console.log();
}

async function handshakes(): Promise<void> {
  const perRound = Math.round(1000 * scale);
  const guards: Record<string, Guard> = {};
  for (const name of names) {
    guards[name] = createGuard({
      origins: [ORIGIN],
      tickets: { ttlMs: 30_000 },
      store: stores[name],
      audit: false,
    });
  }
  const samples: Record<string, number[]> = { memory: [], redis: [] };
  let ipCounter = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const guard = guards[name]!;
      const issued = await Promise.all(
        Array.from({ length: perRound }, () =>
          guard.issueTicket(principal, { origin: ORIGIN }).then((t) => t.ticket),
        ),
      );
      const start = performance.now();
      for (const ticket of issued) {
        // A fresh IP per handshake keeps the connect-rate limit from refusing the benchmark.
        const n = ++ipCounter;
        const decision = await guard.upgrade({
          request: new Request(`http://localhost/ws?ticket=${ticket}`, {
            headers: { origin: ORIGIN },
          }),
          ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        });
        if (!decision.ok) throw new Error(`handshake refused: ${decision.reason}`);
        await guard.close(decision.connection);
      }
      if (round > 0) samples[name]!.push(perRound / ((performance.now() - start) / 1000));
    }
  }
  for (const guard of Object.values(guards)) await guard.shutdown();
  const median = (xs: number[]): number =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  console.log('### Handshakes per second (`upgrade` with a ticket, then `close`; one at a time)\n');
  console.log('| store | handshakes/s | store round trips per handshake |');
  console.log('| --- | ---: | --- |');
  for (const name of names) {
    console.log(
      `| ${name} | ${rate(median(samples[name]!))} | ${name === 'redis' ? '8: upgrade waits on 2 in turn (ban + limit + take, then ban + lease ×2); close sends 2 releases at once' : '— (in process)'} |`,
    );
  }
  console.log();
}

/**
 * Why the Redis store takes unstorage's client instead of its generic API: two racers (separate
 * connections, as two instances would have) redeem the same tickets, once by `getItem` then
 * `removeItem`, once by `take` (GETDEL) on the driver's client.
 */
async function unstorageRace(): Promise<void> {
  const count = 1000;
  const open = async () => {
    const storage = createStorage({
      driver: redisDriver({ url, base: `${prefix}uns`, ...REDIS_CLIENT_OPTIONS }),
    });
    const client = storage.getMount('').driver.getInstance?.() as Redis;
    client.on('error', () => {});
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    return storage;
  };
  const racers = [await open(), await open()];
  const keys = Array.from({ length: count }, (_, i) => `ticket:${i}`);
  const rows: string[] = [];
  try {
    await Promise.all(keys.map((k) => racers[0]!.setItem(k, 'principal')));
    // Both racers walk the same list, 16 redemptions in flight each: every ticket is contended,
    // as when a client's retry reaches a second instance.
    const race = (redeem: (r: number, key: string) => Promise<boolean>): Promise<number[]> =>
      Promise.all(
        [0, 1].map(async (r) => {
          const order = keys;
          let next = 0;
          let won = 0;
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next < order.length) if (await redeem(r, order[next++]!)) won++;
            }),
          );
          return won;
        }),
      );
    const generic = await race(async (r, k) => {
      const storage = racers[r]!;
      if ((await storage.getItem(k)) === null) return false;
      await storage.removeItem(k);
      return true;
    });
    const stores = racers.map((storage) => redisStoreFromUnstorage(storage));
    await Promise.all(keys.map((k) => stores[0]!.set(k, 'principal', 30_000)));
    const atomic = await race(async (r, k) => (await stores[r]!.take(k)) !== undefined);
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    rows.push(
      `| unstorage \`getItem\` then \`removeItem\` | ${generic.join(' + ')} = ${sum(generic)} |`,
      `| \`redisStoreFromUnstorage(storage).take\` (GETDEL on the driver's client) | ${atomic.join(' + ')} = ${sum(atomic)} |`,
    );
  } finally {
    for (const storage of racers) await storage.dispose();
  }
  console.log(`### ${count} tickets, two racers on separate connections\n`);
  console.log('| redemption | successful redemptions (racer 1 + racer 2) |');
  console.log('| --- | ---: |');
  for (const row of rows) console.log(row);
  console.log();
}

const info = String(await redis.call('INFO', 'server'));
const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
console.log(
  `Redis store benchmark — Node ${process.version}, Redis ${version} at ${new URL(url).host}, ` +
    `${process.platform}/${process.arch}, ${availableParallelism()} cores; ${ROUNDS} alternating rounds, round 0 discarded\n`,
);
try {
  await ticketLatency();
  await limitThroughput();
  await handshakes();
  await unstorageRace();
} finally {
  let cursor = '0';
  for (let i = 0; i < 100_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  await redis.quit();
}
