/**
 * Several wsguard instances, each a real process on its own 127.0.0.x, sharing one Redis: tickets
 * redeemed once, a per-user cap and a connect-rate limit that hold across instances, tRPC events
 * published on one instance and followed (and resumed) on others, and the leases of a `kill -9`
 * instance released within `leaseTtlMs`. Outcomes are asserted, never durations; test timeouts
 * bound every wait.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { Principal } from '../../src/auth/principal.ts';
import { createTickets } from '../../src/auth/tickets.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import {
  connectRedis,
  deletePrefix,
  REDIS_URL,
  redisSkipReason,
  uniquePrefix,
} from '../store/redis-env.ts';
import {
  accepted,
  attempt,
  closeAll,
  eventually,
  type Instance,
  killAll,
  type Outcome,
  post,
  sleep,
  startInstance,
  stats,
  tally,
  token,
  trpcClient,
} from './cluster-env.ts';
import { CONNECT_RATE, LEASE_TTL_MS, ORIGIN, USER_CAP } from './fixtures/config.ts';

const skip = await redisSkipReason();
if (skip !== undefined) console.warn(`Redis cluster suite did not run: ${skip}`);

/** Seeded shuffle, so each instance walks the tickets in its own order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = Math.imul(seed, 2654435761) >>> 0;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = Math.floor((s / 2 ** 32) * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe.skipIf(skip !== undefined)(
  `three instances sharing one Redis${skip ? ` (Redis cluster suite did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('cluster');
    let redis: Redis;
    let A: Instance;
    let B: Instance;
    let C: Instance;
    /** A fourth instance, only to be killed. */
    let D: Instance;
    const sockets: WebSocket[] = [];
    const closers: (() => void)[] = [];

    beforeAll(async () => {
      redis = await connectRedis();
      const start = (host: string, name: string) =>
        startInstance({ redisUrl: REDIS_URL, prefix, host, name });
      const started = await Promise.allSettled([
        start('127.0.0.11', 'A'),
        start('127.0.0.12', 'B'),
        start('127.0.0.13', 'C'),
        start('127.0.0.14', 'D'),
      ]);
      const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (ok.length < 4) {
        await killAll(ok);
        throw (started.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      }
      [A, B, C, D] = ok as [Instance, Instance, Instance, Instance];
    }, 60_000);

    afterAll(async () => {
      for (const close of closers) close();
      for (const ws of sockets) ws.terminate();
      await killAll([A, B, C, D]);
      if (redis) {
        await deletePrefix(redis, prefix);
        await redis.quit();
      }
    }, 30_000);

    it('10,000 tickets, each raced by all three instances: exactly 10,000 redemptions, no doubles', async () => {
      const tickets = createTickets(createRedisStore({ client: redis, prefix }), {
        ttlMs: 30_000,
      });
      const N = 10_000;
      const issued: string[] = [];
      for (let batch = 0; batch < N / 500; batch++) {
        const some = await Promise.all(
          Array.from({ length: 500 }, (_, k) => {
            const i = batch * 500 + k;
            const p: Principal = { sub: `ticket-user-${i}`, roles: ['user'], permissions: [] };
            return tickets.issue(p, { origin: ORIGIN }).then((t) => t.ticket);
          }),
        );
        issued.push(...some);
      }
      const pairs = issued.map((t, i) => [i, t] as const);
      // The whole handshake decision (guard.upgrade: bans, connect rate, origin, ticket GETDEL,
      // caps) runs in each instance, driven over HTTP: 30,000 WebSocket handshakes from this
      // one process would take most of the suite's time budget on two cores; the socket path is
      // raced with real sockets in the next test.
      type Result = {
        won: number[];
        lost: number;
        errors: number;
        reasons: Record<string, number>;
      };
      const results = await Promise.all([
        post<Result>(`${A.http}/redeem`, { tickets: pairs }),
        post<Result>(`${B.http}/redeem`, { tickets: [...pairs].reverse() }),
        post<Result>(`${C.http}/redeem`, { tickets: shuffled(pairs, 3) }),
      ]);
      expect(results.map((r) => r.errors)).toEqual([0, 0, 0]);
      const won = results.flatMap((r) => r.won);
      expect(won).toHaveLength(N);
      expect(new Set(won).size).toBe(N);
      expect(results.reduce((n, r) => n + r.lost, 0)).toBe(2 * N);
      // Every instance won some: the three really raced.
      for (const r of results) expect(r.won.length).toBeGreaterThan(0);
    }, 60_000);

    it('over real sockets: 300 tickets, each tried on all three instances at once, 300 accepted', async () => {
      const tickets = createTickets(createRedisStore({ client: redis, prefix }), {
        ttlMs: 30_000,
      });
      const N = 300;
      const outcomes: Outcome[][] = [];
      for (let chunk = 0; chunk < N / 50; chunk++) {
        const some = await Promise.all(
          Array.from({ length: 50 }, async (_, k) => {
            const i = chunk * 50 + k;
            const p: Principal = { sub: `socket-user-${i}`, roles: ['user'], permissions: [] };
            const { ticket } = await tickets.issue(p, { origin: ORIGIN });
            // Each ticket from its own client address: three attempts per IP.
            const localAddress = `127.1.${Math.floor(i / 200) + 1}.${(i % 200) + 1}`;
            return Promise.all(
              [A, B, C].map((x) => attempt(`${x.ws}/ws?ticket=${ticket}`, { localAddress })),
            );
          }),
        );
        outcomes.push(...some);
        await closeAll(some.flatMap(accepted));
      }
      for (const [i, three] of outcomes.entries()) {
        expect(tally(three), `ticket ${i}`).toEqual({ accepted: 1, 'closed 4001': 2 });
      }
    }, 60_000);

    it(`a per-user cap of ${USER_CAP} holds across instances when ${USER_CAP + 5} connections arrive at once`, async () => {
      const url = async (x: Instance) => `${x.ws}/ws?token=${await token('cap-user')}`;
      const targets = [A, A, A, A, B, B, B, C, C, C];
      const outcomes = await Promise.all(
        targets.map(async (x) => attempt(await url(x), { localAddress: '127.3.0.1' })),
      );
      const open = accepted(outcomes);
      sockets.push(...open);
      expect(tally(outcomes)).toEqual({ accepted: USER_CAP, 'closed 4008': 5 });
      // The instances agree: five open connections of the user between them, five leases.
      const counts = await Promise.all([A, B, C].map(stats));
      expect(counts.reduce((n, s) => n + (s.users['cap-user'] ?? 0), 0)).toBe(USER_CAP);
      expect(Number(await redis.call('ZCARD', `${prefix}{lease:user:cap-user}:exp`))).toBe(
        USER_CAP,
      );
      // Still full from any instance; one closes, and a new one fits.
      expect(tally([await attempt(await url(C), { localAddress: '127.3.0.1' })])).toEqual({
        'closed 4008': 1,
      });
      await closeAll(open.slice(0, 1));
      const next = await eventually(async () => {
        const o = await attempt(await url(B), { localAddress: '127.3.0.1' });
        if (o.kind !== 'accepted') throw new Error(`not yet: ${o.kind}`);
        return o;
      }, 20);
      await closeAll([...open.slice(1), next.ws]);
    }, 30_000);

    it('a connect-rate limit driven at 1.6x its budget from two instances allows exactly the budget', async () => {
      const budget = CONNECT_RATE.burst; // 40 at once, then one per 90 s: the test takes seconds
      const attempts = Math.round(budget * 1.6);
      const outcomes = await Promise.all(
        Array.from({ length: attempts }, async (_, i) => {
          const target = i % 2 === 0 ? A : B;
          return attempt(`${target.ws}/ws?token=${await token(`rate-user-${i}`)}`, {
            localAddress: '127.2.0.1',
          });
        }),
      );
      await closeAll(accepted(outcomes));
      // Atomic GCRA in one Lua script: the tolerance is zero.
      expect(tally(outcomes)).toEqual({ accepted: budget, 'http 429': attempts - budget });
    }, 30_000);

    it('an event published on A reaches a tRPC subscriber on B in order; a resume on C gets exactly what it missed', async () => {
      const topic = `room-${crypto.randomUUID().slice(0, 8)}`;
      const pub = trpcClient(
        async () => `${A.ws}/ws?token=${await token('publisher')}`,
        '127.4.0.1',
      );
      closers.push(() => pub.wsClient.close());
      const marker = await pub.trpc.publish.mutate({ topic, n: -1 });

      const first = trpcClient(
        async () => `${B.ws}/ws?token=${await token('reader')}`,
        '127.4.0.2',
      );
      closers.push(() => first.wsClient.close());
      const seen: { id: string; n: number; from: string }[] = [];
      const errors: unknown[] = [];
      const s1 = first.trpc.follow.subscribe(
        { topic, lastEventId: marker },
        {
          onData: (e) => seen.push({ id: e.id, n: e.data.n, from: e.data.from }),
          onError: (e) => errors.push(e),
        },
      );
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) ids.push(await pub.trpc.publish.mutate({ topic, n }));
      await eventually(async () => expect(seen).toHaveLength(20));
      expect(seen.map((e) => e.n)).toEqual([...Array(20).keys()]);
      expect(seen.map((e) => e.id)).toEqual(ids);
      expect(new Set(seen.map((e) => e.from))).toEqual(new Set(['A']));

      // The subscriber goes away; ten events are published while it is gone.
      s1.unsubscribe();
      first.wsClient.close();
      for (let n = 20; n < 30; n++) ids.push(await pub.trpc.publish.mutate({ topic, n }));

      // It comes back on C with the last id it saw.
      const second = trpcClient(
        async () => `${C.ws}/ws?token=${await token('reader')}`,
        '127.4.0.3',
      );
      closers.push(() => second.wsClient.close());
      const resumed: { id: string; n: number }[] = [];
      second.trpc.follow.subscribe(
        { topic, lastEventId: seen.at(-1)!.id },
        {
          onData: (e) => resumed.push({ id: e.id, n: e.data.n }),
          onError: (e) => errors.push(e),
        },
      );
      await eventually(async () => expect(resumed).toHaveLength(10));
      for (let n = 30; n < 35; n++) ids.push(await pub.trpc.publish.mutate({ topic, n }));
      // A last event marks the end: nothing may arrive twice before it.
      ids.push(await pub.trpc.publish.mutate({ topic, n: 999 }));
      await eventually(async () => expect(resumed.at(-1)?.n).toBe(999));
      expect(resumed.map((e) => e.n)).toEqual([
        ...Array.from({ length: 15 }, (_, i) => 20 + i),
        999,
      ]);
      expect(resumed.map((e) => e.id)).toEqual(ids.slice(20));
      expect(errors).toEqual([]);
      second.wsClient.close();
      pub.wsClient.close();
    }, 30_000);

    it('a subscriber told to reconnect (tRPC reconnect notification) moves from B to C mid-stream and loses or repeats nothing', async () => {
      const topic = `move-${crypto.randomUUID().slice(0, 8)}`;
      const pub = trpcClient(
        async () => `${A.ws}/ws?token=${await token('publisher')}`,
        '127.4.0.4',
      );
      closers.push(() => pub.wsClient.close());
      const marker = await pub.trpc.publish.mutate({ topic, n: -1 });
      let connections = 0;
      // First connection to B, every later one to C.
      const mover = trpcClient(async () => {
        const target = connections++ === 0 ? B : C;
        return `${target.ws}/ws?token=${await token('mover')}`;
      }, '127.4.0.5');
      closers.push(() => mover.wsClient.close());
      const seen: { id: string; n: number }[] = [];
      const errors: unknown[] = [];
      mover.trpc.follow.subscribe(
        { topic, lastEventId: marker },
        { onData: (e) => seen.push({ id: e.id, n: e.data.n }), onError: (e) => errors.push(e) },
      );
      const ids: string[] = [];
      for (let n = 0; n < 100; n++) {
        ids.push(await pub.trpc.publish.mutate({ topic, n }));
        if (n === 30) {
          await eventually(async () => expect(seen.length).toBeGreaterThan(10));
          expect(await post(`${B.http}/reconnect`, {})).toEqual({ sessions: 1 });
        }
      }
      ids.push(await pub.trpc.publish.mutate({ topic, n: 999 }));
      await eventually(async () => expect(seen.at(-1)?.n).toBe(999));
      expect(seen.map((e) => e.n)).toEqual([...Array(100).keys(), 999]);
      expect(seen.map((e) => e.id)).toEqual(ids);
      expect(errors).toEqual([]);
      // It did move: its connection is on C now, none left on B.
      await eventually(async () => {
        expect((await stats(C)).users['mover']).toBe(1);
        expect((await stats(B)).users['mover']).toBeUndefined();
      });
      mover.wsClient.close();
      pub.wsClient.close();
    }, 30_000);

    it(`kill -9 an instance holding connections: its leases are released within leaseTtlMs (${LEASE_TTL_MS} ms)`, async () => {
      const url = async (x: Instance) => `${x.ws}/ws?token=${await token('kill-user')}`;
      const held = await Promise.all(
        Array.from({ length: USER_CAP }, async () =>
          attempt(await url(D), { localAddress: '127.5.0.1' }),
        ),
      );
      sockets.push(...accepted(held));
      expect(tally(held)).toEqual({ accepted: USER_CAP });
      expect((await stats(D)).users['kill-user']).toBe(USER_CAP);
      // The cap is full for every instance.
      expect(tally([await attempt(await url(A), { localAddress: '127.5.0.1' })])).toEqual({
        'closed 4008': 1,
      });

      D.child.kill('SIGKILL');
      expect(await D.exited).toBe('SIGKILL');
      // Its last renewal was before the kill, so every lease it held has expired after the bound.
      await sleep(LEASE_TTL_MS + 100);
      const after = await Promise.all(
        [A, B, A, B, C].map(async (x) => attempt(await url(x), { localAddress: '127.5.0.1' })),
      );
      sockets.push(...accepted(after));
      expect(tally(after)).toEqual({ accepted: USER_CAP });
      expect(tally([await attempt(await url(C), { localAddress: '127.5.0.1' })])).toEqual({
        'closed 4008': 1,
      });
      await closeAll(accepted(after));
    }, 30_000);
  },
);
