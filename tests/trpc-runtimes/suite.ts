/**
 * The tRPC suite every runtime passes: a real fixture server process (`fixture-server.ts`: the
 * router of `tests/trpc/fixture-router.ts` behind `createTRPCBridge` + `trpcHooks` and the
 * runtime's adapter), driven by the unmodified `@trpc/client` (`createWSClient`, `wsLink`) and by
 * wsguard's `createGuardedWSClient`, over `ws` on loopback. After every case each guard's
 * `connections` is back to 0.
 *
 * No timings are asserted: outcomes only (which calls failed with which code, which events
 * arrived, how many connection attempts the server saw). Every call that could hang is bounded
 * and fails as "hung" instead of waiting for the test timeout.
 *
 * Every case runs on Node, Bun and Deno: no runtime gap was found, so nothing is skipped (a gap
 * would be an explicit `skipIf` whose reason is printed, never a silent pass).
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import WebSocket from 'ws';
import { createGuardedWSClient, type GuardedWSClientOptions } from '../../src/client.ts';
import { bounded } from '../helpers/bounded.ts';
import type { AppRouter } from '../trpc/fixture-router.ts';
import {
  MAIN_MAX_BATCH,
  MAIN_MAX_SUBSCRIPTIONS,
  TIGHT_BURST,
  TIGHT_MAX_DEPTH,
  TRPC_FIXTURE_SECRET,
} from './constants.ts';
import { type Runtime, startTRPCFixture, type TRPCFixture } from './harness.ts';

const key = new TextEncoder().encode(TRPC_FIXTURE_SECRET);
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sign(sub: string, roles: string[] = ['user'], exp = nowSec() + 600): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(nowSec() - 60)
    .setExpirationTime(exp)
    .sign(key);
}

/** A call must end, with data or an error, within 8 s (Bun and Deno servers are slower). */
const callEnds = <T>(p: Promise<T>, what: string): Promise<T> => bounded(p, what, 8000);

/** The tRPC error of a settled call (code and message), or code 'ok'. */
async function settled(
  p: Promise<unknown>,
  what: string,
): Promise<{ code: string; message: string }> {
  try {
    await callEnds(p, what);
    return { code: 'ok', message: '' };
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const e = error as TRPCClientError<AppRouter>;
      return { code: e.data?.code ?? 'no-code', message: e.message };
    }
    throw error;
  }
}

/** The tRPC error code of a settled call, or 'ok'. */
const outcome = async (p: Promise<unknown>, what: string): Promise<string> =>
  (await settled(p, what)).code;

type EventData = { id: string; data: { room: string; user: string; text: string } };

/** Register the suite for `runtime`. */
export function trpcRuntimeSuite(runtime: Runtime): void {
  describe(`tRPC over the guarded socket on ${runtime}, with the real @trpc/client`, () => {
    let fixture: TRPCFixture;
    const cleanups: (() => unknown)[] = [];
    let addressCounter = 0;
    /** A distinct loopback source address per connection: per-IP penalties and caps stay apart. */
    const nextIp = (): string => {
      addressCounter++;
      return `127.2.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
    };
    /** `ws` as a WebSocket class whose sockets come from `ip()` (the tRPC client calls `new`). */
    const socketFrom = (ip: () => string = nextIp): typeof globalThis.WebSocket =>
      class extends WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols, { localAddress: ip(), perMessageDeflate: false });
        }
      } as unknown as typeof globalThis.WebSocket;
    const wsUrl = (base: string) => `${base.replace(/^http/, 'ws')}/ws`;

    const stats = async () =>
      (await (await fetch(`${fixture.urls.main}/stats`)).json()) as {
        internalErrors: number;
        guards: Record<
          'main' | 'tight' | 'limited',
          {
            connections: number;
            accepted: number;
            rejections: Record<string, number>;
            messageRejections: Record<string, number>;
            closes: Record<string, number>;
          }
        >;
        sessions: Record<string, number>;
      };
    const post = async (room: string, text: string): Promise<void> => {
      const res = await fetch(
        `${fixture.urls.main}/post?room=${encodeURIComponent(room)}&text=${encodeURIComponent(text)}`,
        { method: 'POST' },
      );
      expect(res.status).toBe(200);
    };

    /** tRPC's own client with the token in `connectionParams`. */
    const plainClient = (base: string, token: () => Promise<string>) => {
      const ws = createWSClient({
        url: wsUrl(base),
        WebSocket: socketFrom(),
        connectionParams: async () => ({ token: await token() }),
        retryDelayMs: () => 100,
      });
      cleanups.push(() => ws.close());
      return createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] });
    };

    /** wsguard's client. */
    const guardedClient = (
      options: Omit<GuardedWSClientOptions, 'WebSocket' | 'url'> & { base?: string },
      ip?: () => string,
    ) => {
      const { base, ...rest } = options;
      const c = createGuardedWSClient({
        url: wsUrl(base ?? fixture.urls.main),
        WebSocket: socketFrom(ip),
        ...rest,
      });
      cleanups.push(() => c.close());
      return { c, trpc: createTRPCClient<AppRouter>({ links: [wsLink({ client: c.client })] }) };
    };

    beforeAll(async () => {
      fixture = await startTRPCFixture(runtime);
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0)) {
        try {
          await c();
        } catch {
          // best effort: the next assertion says what is left open
        }
      }
      await expect
        .poll(async () => Object.values((await stats()).guards).map((g) => g.connections), {
          timeout: 8000,
          interval: 50,
        })
        .toEqual([0, 0, 0]);
    });
    afterAll(async () => {
      await fixture?.stop();
    });

    it('serves typed calls and a tracked subscription (ticket auth), resumable from lastEventId', async () => {
      const token = await sign('tina');
      let tickets = 0;
      const { trpc } = guardedClient({
        getTicket: async () => {
          tickets++;
          const res = await fetch(`${fixture.urls.main}/ticket`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}` },
          });
          return ((await res.json()) as { ticket: string }).ticket;
        },
      });
      const me = await callEnds(trpc.whoami.query(), 'whoami');
      expectTypeOf(me.sub).toEqualTypeOf<string>();
      expect(me.sub).toBe('tina');
      expect(me.roles).toEqual(['user']);
      const n = await callEnds(trpc.echo.query({ n: 42 }), 'echo');
      expectTypeOf(n).toEqualTypeOf<number>();
      expect(n).toBe(42);

      const room = 'typed';
      const got: EventData[] = [];
      const sub = trpc.chat.onMessage.subscribe(
        { room },
        { onData: (e) => got.push(e as unknown as EventData) },
      );
      for (const text of ['a', 'b', 'c']) {
        const id = await callEnds(trpc.chat.send.mutate({ room, text }), 'send');
        expectTypeOf(id).toEqualTypeOf<number>();
      }
      await expect.poll(() => got.map((e) => e.data.text)).toEqual(['a', 'b', 'c']);
      // The event schema strips what the contract does not allow (the room log holds a secret).
      for (const e of got) expect(e.data).not.toHaveProperty('secret');
      sub.unsubscribe();

      const resumed: string[] = [];
      const again = trpc.chat.onMessage.subscribe(
        { room, lastEventId: got[0]!.id },
        { onData: (e) => resumed.push((e as unknown as EventData).data.text) },
      );
      await expect.poll(() => resumed).toEqual(['b', 'c']);
      again.unsubscribe();
      expect(tickets).toBe(1);
    });

    it('refuses a procedure whose permission the principal lacks with FORBIDDEN', async () => {
      const trpc = plainClient(fixture.urls.main, () => sign('rita', ['reader']));
      expect(await outcome(trpc.chat.send.mutate({ room: 'r', text: 'x' }), 'send')).toBe(
        'FORBIDDEN',
      );
      expect(await outcome(trpc.admin.kick.mutate({ userId: 'bob' }), 'kick')).toBe('FORBIDDEN');
      // A refusal is per call: the connection still serves what the principal may do.
      expect((await callEnds(trpc.whoami.query(), 'whoami')).sub).toBe('rita');
    });

    it('fails a batch over maxBatchSize: maxBatchSize calls with BAD_REQUEST, the rest by the close (1013), none hangs', async () => {
      const trpc = plainClient(fixture.urls.main, () => sign('bart'));
      await callEnds(trpc.whoami.query(), 'connect');
      // tRPC's client sends the calls made in one tick as one batch frame.
      const over = await Promise.all(
        Array.from({ length: MAIN_MAX_BATCH + 5 }, (_, i) =>
          outcome(trpc.echo.query({ n: i }), `batch call ${i}`),
        ),
      );
      // A refusal never costs more than the frame: at most maxBatchSize replies; the calls left
      // unanswered fail through the close (1013) instead of waiting.
      expect(over.slice(0, MAIN_MAX_BATCH)).toEqual(Array(MAIN_MAX_BATCH).fill('BAD_REQUEST'));
      expect(over.slice(MAIN_MAX_BATCH)).toEqual(Array(5).fill('no-code'));
      const within = await Promise.all(
        Array.from({ length: MAIN_MAX_BATCH }, (_, i) =>
          callEnds(trpc.echo.query({ n: i }), `call ${i}`),
        ),
      );
      expect(within).toEqual(Array.from({ length: MAIN_MAX_BATCH }, (_, i) => i));
    });

    it('charges a batch per call: one over the message budget fails as a whole with TOO_MANY_REQUESTS', async () => {
      const trpc = plainClient(fixture.urls.tight, () => sign('bella'));
      // connectionParams took one frame of the budget; this batch is one frame of 6 calls.
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => outcome(trpc.echo.query({ n: i }), `call ${i}`)),
      );
      expect(results).toEqual(Array(6).fill('TOO_MANY_REQUESTS'));
    });

    it('answers a call the guard refuses for the message rate with TOO_MANY_REQUESTS, not a hang', async () => {
      const trpc = plainClient(fixture.urls.tight, () => sign('rory'));
      const results: { code: string; message: string }[] = [];
      // One frame per call (each awaited). The budget is TIGHT_BURST frames, connectionParams
      // included, then 1 per second.
      for (let i = 0; i < TIGHT_BURST + 2 && results.at(-1)?.code !== 'TOO_MANY_REQUESTS'; i++)
        results.push(await settled(trpc.echo.query({ n: i }), `call ${i}`));
      expect(results.at(-1)?.code).toBe('TOO_MANY_REQUESTS');
      expect(results.at(-1)?.message).toMatch(/retry in \d+ ms/);
      expect(results.filter((r) => r.code === 'ok').length).toBeGreaterThanOrEqual(TIGHT_BURST - 1);
      // The frame was dropped, not the connection: once the budget refills, calls pass again.
      await expect
        .poll(() => outcome(trpc.echo.query({ n: 7 }), 'refilled'), {
          timeout: 6000,
          interval: 300,
        })
        .toBe('ok');
      expect((await stats()).guards.tight.messageRejections.message_rate).toBeGreaterThan(0);
    });

    it('answers a call the guard refuses as invalid (too deep) with BAD_REQUEST, not a hang', async () => {
      const trpc = plainClient(fixture.urls.tight, () => sign('dora'));
      let deep: unknown = { n: 1 };
      for (let i = 0; i < TIGHT_MAX_DEPTH; i++) deep = { deeper: deep };
      expect(await outcome(trpc.echo.query(deep as { n: number }), 'deep')).toBe('BAD_REQUEST');
      expect(await callEnds(trpc.echo.query({ n: 3 }), 'after')).toBe(3);
      expect((await stats()).guards.tight.messageRejections.too_deep).toBeGreaterThan(0);
    });

    it('caps live subscriptions per connection, and frees a slot when one stops', async () => {
      const trpc = plainClient(fixture.urls.main, () => sign('cara'));
      const started: number[] = [];
      const errors: string[] = [];
      const subs = Array.from({ length: MAIN_MAX_SUBSCRIPTIONS + 1 }, (_, i) =>
        trpc.chat.onMessage.subscribe(
          { room: `cap${i}` },
          {
            onStarted: () => started.push(i),
            onError: (e) => errors.push((e as TRPCClientError<AppRouter>).data?.code ?? '?'),
          },
        ),
      );
      await expect.poll(() => started.length + errors.length).toBe(MAIN_MAX_SUBSCRIPTIONS + 1);
      expect(started).toHaveLength(MAIN_MAX_SUBSCRIPTIONS);
      expect(errors).toEqual(['TOO_MANY_REQUESTS']);
      subs[0]!.unsubscribe();
      // The stop is handled before the next frame: a new subscription fits again.
      await callEnds(trpc.whoami.query(), 'round trip');
      let restarted = false;
      const next = trpc.chat.onMessage.subscribe(
        { room: 'cap-next' },
        { onStarted: () => (restarted = true) },
      );
      await expect.poll(() => restarted).toBe(true);
      next.unsubscribe();
      for (const s of subs) s.unsubscribe();
    });

    it('keeps a subscription across token expiry when the client refreshes in band: no event lost, no reconnect', async () => {
      const before = (await stats()).guards.main;
      const firstExp = nowSec() + 3;
      let refreshes = 0;
      const closes: number[] = [];
      const room = 'inband';
      let trpc: ReturnType<typeof guardedClient>['trpc'];
      ({ trpc } = guardedClient({
        getToken: () => sign('ivan', ['user'], firstExp),
        refreshToken: async () => {
          refreshes++;
          return sign('ivan', ['user'], nowSec() + 600);
        },
        refreshInBand: (token) => trpc.session.refresh.mutate({ token }),
        refreshBeforeMs: 1500,
        onClose: (e) => closes.push(e.code),
      }));
      const seen: string[] = [];
      const sub = trpc.chat.onMessage.subscribe(
        { room },
        { onData: (e) => seen.push((e as unknown as EventData).data.text) },
      );
      await post(room, 'one');
      await expect.poll(() => seen).toEqual(['one']);
      await expect.poll(() => refreshes, { timeout: 6000 }).toBe(1);
      await post(room, 'two');
      // Past the first token's exp: the connection lives on with the refreshed one.
      await sleep(Math.max(0, firstExp * 1000 - Date.now()) + 500);
      await post(room, 'three');
      await expect.poll(() => seen).toEqual(['one', 'two', 'three']);
      expect((await callEnds(trpc.whoami.query(), 'whoami')).sub).toBe('ivan');
      expect(closes).toEqual([]);
      const after = (await stats()).guards.main;
      expect(after.accepted - before.accepted).toBe(1);
      expect(after.closes['4002'] ?? 0).toBe(before.closes['4002'] ?? 0);
      sub.unsubscribe();
    });

    it('closes with 4002 at exp without a refresh; the guarded client refreshes, resumes, loses and repeats no event', async () => {
      const room = 'expiry';
      let refreshes = 0;
      const closes: number[] = [];
      const during: Promise<void>[] = [];
      const { trpc } = guardedClient({
        getToken: () => sign('zoe', ['user'], nowSec() + 2),
        refreshToken: async () => {
          refreshes++;
          await sleep(300); // slow on purpose: an event is posted inside the gap
          return sign('zoe', ['user'], nowSec() + 600);
        },
        onClose: (e) => {
          closes.push(e.code);
          if (e.code === 4002) during.push(post(room, 'during'));
        },
        backoff: { baseMs: 10, maxMs: 50 },
      });
      const seen: string[] = [];
      const sub = trpc.chat.onMessage.subscribe(
        { room },
        { onData: (e) => seen.push((e as unknown as EventData).data.text) },
      );
      await callEnds(trpc.chat.send.mutate({ room, text: 'before' }), 'before');
      await expect.poll(() => seen).toEqual(['before']);
      // The server closes by itself at exp (the client sends nothing meanwhile).
      await expect.poll(() => closes, { timeout: 6000 }).toEqual([4002]);
      await expect.poll(() => refreshes, { timeout: 5000 }).toBe(1);
      await Promise.all(during);
      await expect.poll(() => seen, { timeout: 5000 }).toEqual(['before', 'during']);
      await callEnds(trpc.chat.send.mutate({ room, text: 'after' }), 'after');
      await expect.poll(() => seen).toEqual(['before', 'during', 'after']);
      expect(closes).toEqual([4002]);
      sub.unsubscribe();
    });

    it('stops a live subscription with FORBIDDEN when the role is revoked; the connection stays', async () => {
      const trpc = plainClient(fixture.urls.main, () => sign('rex'));
      const errors: string[] = [];
      let started = false;
      trpc.chat.onMessage.subscribe(
        { room: 'revoke' },
        {
          onStarted: () => (started = true),
          onError: (e) => errors.push((e as TRPCClientError<AppRouter>).data?.code ?? '?'),
        },
      );
      await expect.poll(() => started).toBe(true);
      const res = await fetch(`${fixture.urls.main}/revoke?sub=rex`, { method: 'POST' });
      expect(await res.json()).toEqual({ stopped: 1 });
      await expect.poll(() => errors).toEqual(['FORBIDDEN']);
      expect((await callEnds(trpc.whoami.query(), 'whoami')).sub).toBe('rex');
    });

    it('answers another client while one subscription bursts 100,000 events (fairness)', async () => {
      const N = 100_000;
      const token = await sign('burt');
      const burster = new WebSocket(`${wsUrl(fixture.urls.main)}?token=${token}`, {
        localAddress: nextIp(),
        perMessageDeflate: false,
      });
      cleanups.push(() => burster.terminate());
      let events = 0;
      let stopped = false;
      burster.on('message', (data: Buffer) => {
        if (data.includes('"stopped"')) stopped = true;
        else events++;
      });
      await new Promise<void>((resolve, reject) => {
        burster.once('open', () => resolve());
        burster.once('error', reject);
      });
      const trpc = plainClient(fixture.urls.main, () => sign('ivy'));
      await callEnds(trpc.whoami.query(), 'connect');
      burster.send(
        JSON.stringify({
          id: 1,
          method: 'subscription',
          params: { path: 'chat.burst', input: { n: N } },
        }),
      );
      await expect.poll(() => events, { interval: 1 }).toBeGreaterThan(100);
      expect(await callEnds(trpc.echo.query({ n: 5 }), 'echo during the burst')).toBe(5);
      // The other client was answered while the burst was still running.
      const seenAtAnswer = events;
      expect(stopped).toBe(false);
      expect(seenAtAnswer).toBeLessThan(N);
      // And the burst itself lost nothing (the subscriber reads, so nothing is paused or cut).
      await expect.poll(() => stopped, { timeout: 15_000 }).toBe(true);
      expect(events).toBe(N + 1); // `started` + N data events
    });

    it('the guarded client makes exactly one attempt against a server answering 4001', async () => {
      const before = (await stats()).guards.main.rejections.credentials_invalid ?? 0;
      let tickets = 0;
      const stops: number[] = [];
      const { c } = guardedClient({
        getTicket: async () => `not-a-ticket-${++tickets}`,
        onAuthError: (s) => stops.push(s.code),
        backoff: { baseMs: 10, maxMs: 20 },
      });
      await expect.poll(() => stops).toEqual([4001]);
      await sleep(500); // ample time for a storm with 10–20 ms backoff
      expect(stops).toEqual([4001]);
      expect(tickets).toBe(1);
      expect(c.stopped).toBe(true);
      expect((await stats()).guards.main.rejections.credentials_invalid).toBe(before + 1);
    });

    it('the guarded client backs off against a server answering 4029: retries with fresh credentials, does not stop within its budget, no storm', async () => {
      const attempts = async () => (await stats()).guards.limited.rejections.connect_rate ?? 0;
      const ip = `127.3.${runtime === 'node' ? 1 : runtime === 'bun' ? 2 : 3}.1`;
      // Spend this address's one connection of the minute (accepted, then cut by us).
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(wsUrl(fixture.urls.limited), { localAddress: ip });
        ws.on('error', () => {});
        ws.once('open', () => ws.terminate());
        ws.once('close', () => resolve());
      });
      const before = await attempts();
      const tickets: string[] = [];
      const stops: number[] = [];
      const closes: { code: number; action: string }[] = [];
      const { c } = guardedClient(
        {
          base: fixture.urls.limited,
          getTicket: async () => {
            tickets.push(`t${tickets.length}`);
            return tickets.at(-1)!;
          },
          onAuthError: (s) => stops.push(s.code),
          onClose: (e) => closes.push({ code: e.code, action: e.action }),
          // No give-up inside this window: the budget is what reconnect-bounds.test.ts tests.
          backoff: { baseMs: 50, maxMs: 1000, maxAttempts: Number.POSITIVE_INFINITY },
        },
        () => ip,
      );
      await expect
        .poll(async () => (await attempts()) - before, { timeout: 8000 })
        .toBeGreaterThanOrEqual(3);
      const windowStart = (await attempts()) - before;
      await sleep(1500);
      const inWindow = (await attempts()) - before - windowStart;
      // The server's answers are what this test is about: our own close() may land on an attempt
      // in flight, which the client reports as its own (1006, action `none`), so it is apart.
      const served = closes.length;
      await c.close();
      const seen = (await attempts()) - before;
      expect(stops).toEqual([]);
      expect(served).toBeGreaterThanOrEqual(3);
      for (const e of closes.slice(0, served)) expect(e).toEqual({ code: 4029, action: 'backoff' });
      for (const e of closes.slice(served)) expect(e.action).toBe('none');
      // A fresh ticket per attempt.
      expect(tickets.length).toBeGreaterThanOrEqual(seen);
      expect(new Set(tickets).size).toBe(tickets.length);
      console.info(`[trpc-runtimes:${runtime}] 4029: ${inWindow} attempts in a 1.5 s window`);
      // No storm, and a backoff that grows: past the third attempt the delays are drawn from
      // [0, 400 ms) and up, so 15 in 1.5 s is out of reach. A ceiling stuck at the 50 ms base (what
      // tRPC's attempt count gives when every socket opens before it is closed) makes ~50; no
      // backoff at all, hundreds.
      expect(inWindow).toBeLessThan(15);
    });

    it('the server process logged no internal error and still serves', async () => {
      const s = await stats();
      expect(s.internalErrors, fixture.stderr()).toBe(0);
      expect(fixture.child.exitCode).toBeNull();
    });
  });
}
