/**
 * Store round trips per handshake on Redis, counted two ways in one run (issue 17: "at most 2
 * round trips per ticket or JWT handshake"):
 *
 * - **in turn** (what a handshake waits for): the guard talks to Redis through a proxy that
 *   holds every reply back `DELAY_MS`; a handshake's latency over that of the same handshake
 *   without the delay, divided by `DELAY_MS`, is the number of round trips it waited for one
 *   after the other (commands sent together wait once);
 * - **commands** (what Redis executes): `INFO commandstats` before and after, per handshake.
 *
 *   node_modules/.bin/tsx bench/handshake-round-trips.ts    # REDIS_URL, default redis://127.0.0.1:6379
 *
 * Each case runs `COUNT` handshakes one at a time (`guard.upgrade`, then `guard.close`), each from
 * a fresh address and user, with the per-IP and per-user caps and the connect rate on (the
 * defaults a deployment runs with). Keys live under a unique prefix, deleted at the end.
 *
 * @module
 */
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { createGuard } from '../src/guard/create-guard.ts';
import type { GuardOptions } from '../src/guard/options.ts';
import type { Guard } from '../src/guard/types.ts';
import { createRedisStore } from '../src/store/redis.ts';
import { REDIS_CLIENT_OPTIONS } from '../src/store/redis-client.ts';
import { startTcpProxy } from '../tests/store/tcp-proxy.ts';

const url = new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
const DELAY_MS = 20;
const COUNT = Number(process.env['BENCH_COUNT'] ?? 40);
const ORIGIN = 'https://app.example.com';
const SECRET = new TextEncoder().encode('a-32-byte-secret-for-the-bench!!');
const prefix = `wsguard-rt:${process.pid}:`;

async function ready(redis: Redis): Promise<Redis> {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}

/** Total calls per command name from `INFO commandstats`. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const limits: GuardOptions['limits'] = {
  maxConnectionsPerIp: 10,
  maxConnectionsPerUser: 5,
  connectRate: { limit: 10, windowMs: 1000 },
};

function guardOn(client: Redis): Guard {
  return createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    tickets: { ttlMs: 30_000 },
    store: createRedisStore({ client, prefix }),
    limits,
    audit: false,
  });
}

type Kind = 'ticket' | 'jwt';
let n = 0;

/** Median latency (ms) of `COUNT` handshakes of `kind`, one at a time. */
async function run(guard: Guard, kind: Kind): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const id = ++n;
    const sub = `rt-user-${id}`;
    // A ticket in the query (as browsers send it), a token in the Authorization header.
    const headers: Record<string, string> = { origin: ORIGIN };
    let query = '';
    if (kind === 'ticket') {
      const principal = { sub, roles: ['user'], permissions: [] };
      query = `?ticket=${(await guard.issueTicket(principal, { origin: ORIGIN })).ticket}`;
    } else {
      const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub);
      headers['authorization'] = `Bearer ${await jwt.setExpirationTime('1h').sign(SECRET)}`;
    }
    const ip = `10.77.${(id >> 8) & 255}.${id & 255}`;
    const start = performance.now();
    const decision = await guard.upgrade({
      request: new Request(`http://localhost/ws${query}`, { headers }),
      ip,
    });
    times.push(performance.now() - start);
    if (!decision.ok) throw new Error(`handshake refused: ${decision.reason}`);
    await guard.close(decision.connection);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const admin = await ready(new Redis(url.toString(), REDIS_CLIENT_OPTIONS));
const direct = await ready(new Redis(url.toString(), REDIS_CLIENT_OPTIONS));
const proxy = await startTcpProxy(url.hostname, Number(url.port || 6379), DELAY_MS);
const delayed = await ready(
  new Redis({ ...REDIS_CLIENT_OPTIONS, host: '127.0.0.1', port: proxy.port, commandTimeout: 5000 }),
);
const fast = guardOn(direct);
const slow = guardOn(delayed);
const rows: string[] = [];
try {
  for (const kind of ['ticket', 'jwt'] as const) {
    await run(fast, kind); // warm: scripts loaded, ban channel subscribed
    await run(slow, kind);
    const before = await commandCalls(admin);
    const base = await run(fast, kind);
    const after = await commandCalls(admin);
    const waited = await run(slow, kind);
    const perCommand = [...after]
      .map(([name, calls]) => [name, (calls - (before.get(name) ?? 0)) / COUNT] as const)
      .filter(([name, per]) => per > 0 && name !== 'info')
      .map(([name, per]) => `${name} ${per.toFixed(2)}`)
      .join(', ');
    // The upgrade only: the issue and the close happen outside the timed part.
    const inTurn = (waited - base) / DELAY_MS;
    rows.push(
      `| ${kind} | ${base.toFixed(2)} ms | ${waited.toFixed(1)} ms | ${inTurn.toFixed(2)} | ${perCommand} |`,
    );
  }
} finally {
  await Promise.all([fast.shutdown(), slow.shutdown()]);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  for (const r of [admin, direct, delayed]) r.disconnect();
  await proxy.close();
}
console.log(
  `### Store round trips per handshake (Redis; ${COUNT} handshakes each; replies delayed ${DELAY_MS} ms)\n`,
);
console.log(
  '| credential | upgrade p50, direct | upgrade p50, delayed | round trips in turn | Redis commands per handshake (upgrade + issue + close) |',
);
console.log('| --- | ---: | ---: | ---: | --- |');
for (const row of rows) console.log(row);
