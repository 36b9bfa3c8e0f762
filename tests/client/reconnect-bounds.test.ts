/**
 * Defect 10: every reconnect path of `createGuardedWSClient` backs off and gives up after a bound,
 * a stop stays a stop until `restart()`, and calls made while stopped fail at once without a
 * ticket or a socket. Real servers on loopback, the real `@trpc/client`; connections and
 * refreshes are counted in bounded windows.
 */
import { createTRPCClient, TRPCClientError, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClientStop,
  ClientStoppedError,
  createGuardedWSClient,
  type GuardedWSClientOptions,
} from '../../src/client.ts';
import { rejection, type ScriptedServer, scriptedServer, sleep, WS } from './servers.ts';

const t = initTRPC.create();
const router = t.router({
  ping: t.procedure.query(() => 'ping'),
  ticks: t.procedure.subscription(async function* () {
    yield 1;
  }),
});
type Router = typeof router;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A guarded client on `srv`, with counters for what it did. */
function client(
  srv: ScriptedServer,
  mode: 'ticket' | 'token',
  options: Partial<GuardedWSClientOptions> = {},
) {
  const seen = {
    tickets: 0,
    tokens: 0,
    refreshes: 0,
    stops: [] as ClientStop[],
    auth: [] as number[],
  };
  const c = createGuardedWSClient({
    url: srv.wsUrl,
    WebSocket: WS,
    ...(mode === 'ticket'
      ? { getTicket: async () => `t${++seen.tickets}` }
      : { getToken: () => `token${++seen.tokens}` }),
    refreshToken: async () => `r${++seen.refreshes}`,
    onStop: (s) => seen.stops.push(s),
    onAuthError: (s) => seen.auth.push(s.code),
    backoff: { baseMs: 10, maxMs: 40 },
    ...options,
  });
  cleanups.push(() => c.close());
  const trpc = createTRPCClient<Router>({ links: [wsLink({ client: c.client })] });
  return { c, trpc, seen };
}

/** The cause of a tRPC call's rejection. */
function causeOf(error: unknown): unknown {
  expect(error).toBeInstanceOf(TRPCClientError);
  return (error as TRPCClientError<Router>).cause;
}

describe('every reconnect path is bounded', () => {
  it.each(['ticket', 'token'] as const)(
    'a server that always answers 4002 (%s): 10 connections and 9 refreshes, then a gave-up report, then nothing',
    async (mode) => {
      const srv = await scriptedServer({ close: 4002, reason: 'token expired' }, cleanups);
      const closes: number[] = [];
      const { c, trpc, seen } = client(srv, mode, { onClose: (e) => closes.push(e.code) });
      // Before the fix: 1,320 connections and 1,319 refreshes in 3 s.
      await expect.poll(() => seen.stops.length, { timeout: 3000 }).toBe(1);
      expect(seen.stops[0]).toMatchObject({ kind: 'gave-up', code: 4002 });
      expect(seen.stops[0]!.reason).toContain('token expired');
      // As below: the stop can be decided (tRPC asks for the next delay) before the last close
      // is reported and its refresh made; wait for that report, then hold the counts exact.
      await expect
        .poll(() => seen.refreshes, { timeout: 1000, message: `closes ${closes}` })
        .toBe(9);
      expect(srv.connections()).toBe(10);
      expect(seen.auth).toEqual([]); // giving up is not an auth refusal
      expect(c.stopped).toBe(true);
      await sleep(500); // a storm at 10–40 ms would show here
      expect(srv.connections()).toBe(10);
      expect(seen.refreshes).toBe(9);
      // A call while stopped fails at once: no ticket, no token, no socket.
      const before = { ...seen };
      const started = Date.now();
      const error = await rejection(trpc.ping.query());
      expect(Date.now() - started).toBeLessThan(200);
      expect(causeOf(error)).toBeInstanceOf(ClientStoppedError);
      expect((causeOf(error) as ClientStoppedError).stop.kind).toBe('gave-up');
      await sleep(200);
      expect(srv.connections()).toBe(10);
      expect([seen.tickets, seen.tokens, seen.refreshes]).toEqual([
        before.tickets,
        before.tokens,
        before.refreshes,
      ]);
      expect(seen.stops).toHaveLength(1);
    },
  );

  it('a server that always answers 1001: bounded by the default too (10 connections)', async () => {
    const srv = await scriptedServer({ close: 1001, reason: 'going away' }, cleanups);
    const { seen } = client(srv, 'ticket');
    await expect.poll(() => seen.stops.length, { timeout: 3000 }).toBe(1);
    expect(seen.stops[0]).toMatchObject({ kind: 'gave-up', code: 1001 });
    await sleep(400);
    expect(srv.connections()).toBe(10);
    expect(seen.tickets).toBe(10);
    expect(seen.refreshes).toBe(0);
  });

  it.each([
    [1006, { status: 403 }],
    [1011, { close: 1011, reason: 'internal error' }],
    [1013, { close: 1013, reason: 'try again later' }],
    [4008, { close: 4008, reason: 'too many connections' }],
    [4029, { close: 4029, reason: 'rate limit exceeded; retry in 20 ms' }],
  ] as const)(
    'code %i: maxAttempts 4 means 4 connections, then gave-up and nothing more',
    async (code, step) => {
      const srv = await scriptedServer(step, cleanups);
      const closes: number[] = [];
      const { seen } = client(srv, 'ticket', {
        backoff: { baseMs: 5, maxMs: 20, maxAttempts: 4 },
        onClose: (e) => closes.push(e.code),
      });
      await expect.poll(() => seen.stops.length, { timeout: 3000 }).toBe(1);
      expect(seen.stops[0]).toMatchObject({ kind: 'gave-up', code });
      // The stop is decided when tRPC asks for the next delay, which may come before it reports
      // the last close: wait for that report, then hold the count exact.
      await expect.poll(() => closes.length, { timeout: 1000 }).toBe(4);
      await sleep(300);
      expect(closes).toEqual([code, code, code, code]);
      expect(srv.connections()).toBe(4);
      expect(seen.tickets).toBe(4);
      // A fresh ticket for every attempt, never a replayed one.
      expect(srv.ticketsPresented()).toEqual(['t1', 't2', 't3', 't4']);
    },
  );

  it('maxElapsedMs ends a run however many attempts remain', async () => {
    const srv = await scriptedServer({ close: 4029, reason: 'slow down' }, cleanups);
    const started = Date.now();
    const { seen } = client(srv, 'ticket', {
      backoff: { baseMs: 20, maxMs: 40, maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: 400 },
    });
    await expect.poll(() => seen.stops.length, { timeout: 3000 }).toBe(1);
    const took = Date.now() - started;
    expect(seen.stops[0]).toMatchObject({ kind: 'gave-up', code: 4029 });
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(1500);
    const n = srv.connections();
    // At least one attempt per 40 ms ceiling would be ~10; jitter makes it more, never unbounded.
    expect(n).toBeGreaterThan(2);
    expect(n).toBeLessThan(200);
    await sleep(300);
    expect(srv.connections()).toBe(n);
  });

  it('calls waiting for a connection when the client gives up fail with the stop', async () => {
    // Refused at the upgrade: no socket ever opens, so the calls wait for one across attempts.
    const srv = await scriptedServer({ status: 503 }, cleanups);
    const { trpc, seen } = client(srv, 'ticket', {
      backoff: { baseMs: 5, maxMs: 10, maxAttempts: 3 },
    });
    const pending = rejection(trpc.ping.query(), 3000);
    const events: string[] = [];
    const sub = trpc.ticks.subscribe(undefined, {
      onError: (e) => events.push(`error:${(e.cause as Error)?.name}`),
      onComplete: () => events.push('complete'),
    });
    cleanups.push(() => sub.unsubscribe());
    const error = await pending;
    expect(causeOf(error)).toBeInstanceOf(ClientStoppedError);
    expect(seen.stops).toHaveLength(1);
    await expect.poll(() => events).toEqual(['error:ClientStoppedError']);
    expect(srv.connections()).toBe(3);
  });
});

describe('a stop is a stop until restart()', () => {
  it.each([
    [4001, 'refused'],
    [4003, 'refused'],
    [4030, 'banned'],
    [1008, 'refused'],
    [1009, 'too-big'],
  ] as const)(
    'after %i the next tRPC call fails at once, fetching no ticket and opening no socket',
    async (code, kind) => {
      const srv = await scriptedServer({ close: code, reason: 'no' }, cleanups);
      const { c, trpc, seen } = client(srv, 'ticket');
      await expect.poll(() => seen.stops).toEqual([{ kind, code, reason: 'no' }]);
      // 1009 is a message over the server's limit, not an auth failure: onStop only.
      expect(seen.auth).toEqual(kind === 'too-big' ? [] : [code]);
      // Before the fix: this call fetched a ticket and reconnected (the admin's kick undone).
      for (let i = 0; i < 3; i++) {
        const error = await rejection(trpc.ping.query(), 500);
        expect((causeOf(error) as ClientStoppedError).stop).toEqual({ kind, code, reason: 'no' });
      }
      const sub = await new Promise<unknown>((resolve) => {
        trpc.ticks.subscribe(undefined, { onError: (e) => resolve(e.cause) });
      });
      expect(sub).toBeInstanceOf(ClientStoppedError);
      await sleep(300);
      expect(srv.connections()).toBe(1);
      expect(seen.tickets).toBe(1);
      expect(c.stopped).toBe(true);
    },
  );

  it('restart() is the way back: the next call connects with a fresh ticket and is answered', async () => {
    const srv = await scriptedServer({ close: 4001, reason: 'invalid credentials' }, cleanups);
    const { c, trpc, seen } = client(srv, 'ticket');
    await expect.poll(() => seen.auth).toEqual([4001]);
    await sleep(200);
    expect(srv.connections()).toBe(1);
    srv.setStep('serve');
    expect(c.restart()).toBe(true);
    expect(c.stopped).toBe(false);
    await sleep(200);
    expect(srv.connections()).toBe(1); // restart() arms; the call connects
    expect(await trpc.ping.query()).toBe('ping');
    expect(srv.connections()).toBe(2);
    expect(srv.ticketsPresented()).toEqual(['t1', 't2']);
  });

  it('close() is a stop too: calls fail at once until restart()', async () => {
    const srv = await scriptedServer('serve', cleanups);
    const { c, trpc, seen } = client(srv, 'token');
    expect(await trpc.ping.query()).toBe('ping');
    await c.close();
    expect(c.stop?.kind).toBe('closed');
    const error = await rejection(trpc.ping.query(), 500);
    expect((causeOf(error) as ClientStoppedError).stop.kind).toBe('closed');
    await sleep(100);
    expect(srv.connections()).toBe(1);
    expect(seen.stops).toEqual([]); // the app's own close is not reported back to it
    expect(c.restart()).toBe(true);
    expect(await trpc.ping.query()).toBe('ping');
    expect(srv.connections()).toBe(2);
  });

  it('lazy mode: connections the client closes itself when idle are healthy, not failures', async () => {
    const srv = await scriptedServer('serve', cleanups);
    const { trpc, seen } = client(srv, 'ticket', {
      lazy: { enabled: true, closeMs: 0 },
      backoff: { baseMs: 5, maxMs: 20, maxAttempts: 2 },
    });
    for (let i = 0; i < 5; i++) {
      expect(await trpc.ping.query()).toBe('ping');
      // Let the idle close happen before the next call.
      await expect.poll(() => srv.openSockets()).toBe(0);
    }
    expect(srv.connections()).toBe(5);
    expect(seen.stops).toEqual([]);
  });

  it('a first 4002 still refreshes and reconnects at once', async () => {
    // The first connection is closed with 4002; the second one serves.
    const srv = await scriptedServer(
      (n) => (n === 1 ? { close: 4002, reason: 'token expired' } : 'serve'),
      cleanups,
    );
    const { trpc, seen } = client(srv, 'token', {
      backoff: { baseMs: 5000, maxMs: 5000, maxAttempts: 2 },
    });
    // At once: with a 5 s backoff, a wait would not fit in the poll.
    await expect.poll(() => srv.connections(), { timeout: 1500 }).toBe(2);
    expect(seen.refreshes).toBe(1);
    expect(await trpc.ping.query()).toBe('ping');
    expect(seen.stops).toEqual([]);
  });
});

describe('a going-away close (1001) with a reconnect window', () => {
  /** When the client reconnects after the first handshake's 1001 with `reason`, in ms. */
  async function reconnectAfter(reason: string): Promise<number> {
    const srv = await scriptedServer(
      (n) => (n === 1 ? { close: 1001, reason } : 'serve'),
      cleanups,
    );
    let closedAt = 0;
    const opens: number[] = [];
    client(srv, 'ticket', {
      onClose: () => {
        closedAt ||= performance.now();
      },
      onOpen: () => opens.push(performance.now()),
      // A hint is honoured up to ten times maxMs (a server cannot park a client for ever).
      backoff: { baseMs: 10, maxMs: 200 },
    });
    await expect.poll(() => opens.length, { timeout: 3000 }).toBe(2);
    expect(srv.connections()).toBe(2);
    return opens[1]! - closedAt;
  }

  it('waits the delay the server drew for it ("retry in <ms>"), then reconnects', async () => {
    const waited = await reconnectAfter('server shutting down; retry in 700 ms');
    expect(waited).toBeGreaterThanOrEqual(690);
    expect(waited).toBeLessThan(1500);
  });

  it('without a hint reconnects at once, as the contract says', async () => {
    expect(await reconnectAfter('server shutting down')).toBeLessThan(300);
  });
});
