/**
 * Defect 12, client side: a browser cannot read the 403 of a refused handshake, so it learns of a
 * ban from a 4030 close (reason `banned until <ISO>`) or from the ticket endpoint's 403 `BANNED`
 * body; either way the client stops until the ban's end and says so. A failing ticket fetch is
 * reported to the app and retried within a bound. Tiny real servers on loopback (they answer as
 * the lead's server change will), the real `@trpc/client`.
 */
import { createServer } from 'node:net';
import { createTRPCClient, type TRPCClientError, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClientStop,
  ClientStoppedError,
  createGuardedWSClient,
  fetchTicket,
  type GuardedWSClientOptions,
  TicketError,
} from '../../src/client.ts';
import { rejection, type ScriptedServer, scriptedServer, sleep, WS } from './servers.ts';

const t = initTRPC.create();
const router = t.router({ ping: t.procedure.query(() => 'ping') });
type Router = typeof router;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(
  srv: ScriptedServer,
  getTicket: () => Promise<string>,
  options: Partial<GuardedWSClientOptions> = {},
) {
  const seen = { stops: [] as ClientStop[], auth: [] as number[], errors: [] as unknown[] };
  const c = createGuardedWSClient({
    url: srv.wsUrl,
    WebSocket: WS,
    getTicket,
    onStop: (s) => seen.stops.push(s),
    onAuthError: (s) => seen.auth.push(s.code),
    onCredentialError: (e) => seen.errors.push(e),
    backoff: { baseMs: 10, maxMs: 40 },
    ...options,
  });
  cleanups.push(() => c.close());
  const trpc = createTRPCClient<Router>({ links: [wsLink({ client: c.client })] });
  return { c, trpc, seen };
}

const bannedBody = (until: Date, retryAfterSec: number) =>
  JSON.stringify({
    error: {
      code: 'BANNED',
      message: `banned until ${until.toISOString()}`,
      until: until.toISOString(),
      retryAfterSec,
    },
  });

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('4030: stopped until the ban ends', () => {
  it('stops with the end read from the reason; restart() is refused before it and works after', async () => {
    const until = new Date(Date.now() + 900);
    const srv = await scriptedServer(
      { close: 4030, reason: `banned until ${until.toISOString()}` },
      cleanups,
    );
    let tickets = 0;
    const { c, trpc, seen } = client(srv, async () => `t${++tickets}`);
    await expect.poll(() => seen.auth).toEqual([4030]);
    expect(seen.stops).toEqual([
      {
        kind: 'banned',
        code: 4030,
        reason: `banned until ${until.toISOString()}`,
        until: until.getTime(),
      },
    ]);
    expect(c.stop?.until).toBe(until.getTime());
    // Before the end: the app cannot make it reconnect, and calls fail at once.
    expect(c.restart()).toBe(false);
    expect(c.stopped).toBe(true);
    const error = await rejection(trpc.ping.query(), 500);
    expect((error as TRPCClientError<Router>).cause).toBeInstanceOf(ClientStoppedError);
    expect(((error as TRPCClientError<Router>).cause as ClientStoppedError).stop.kind).toBe(
      'banned',
    );
    await sleep(200);
    expect(srv.connections()).toBe(1);
    expect(tickets).toBe(1);
    // After the end: restart() is allowed, and the next call connects.
    await sleep(Math.max(0, until.getTime() - Date.now()) + 20);
    expect(srv.connections()).toBe(1); // nothing on its own at the ban's end either
    srv.setStep('serve');
    expect(c.restart()).toBe(true);
    expect(await trpc.ping.query()).toBe('ping');
    expect(srv.connections()).toBe(2);
    expect(tickets).toBe(2);
  });

  it('a relative `retry after Ns` in the reason wins over the ISO end (clock skew)', async () => {
    // The ISO end as a client clock an hour behind the server's would read it.
    const skewed = new Date(Date.now() + 3_600_000).toISOString();
    const srv = await scriptedServer(
      { close: 4030, reason: `banned until ${skewed}; retry after 2s` },
      cleanups,
    );
    const started = Date.now();
    const { seen } = client(srv, async () => 't');
    await expect.poll(() => seen.stops).toHaveLength(1);
    expect(seen.stops[0]!.until).toBeGreaterThanOrEqual(started + 2000);
    expect(seen.stops[0]!.until).toBeLessThanOrEqual(Date.now() + 2000);
  });

  it('a 4030 whose reason names no date stops too, and the app may restart when it chooses', async () => {
    const srv = await scriptedServer({ close: 4030, reason: 'banned' }, cleanups);
    const { c, seen } = client(srv, async () => 't');
    await expect.poll(() => seen.stops).toEqual([{ kind: 'banned', code: 4030, reason: 'banned' }]);
    expect(c.restart()).toBe(true);
  });
});

describe('the ticket endpoint says "banned"', () => {
  it('a 403 BANNED body stops the client like a 4030: reported, no socket, no refetch before the end', async () => {
    const until = new Date(Date.now() + 800);
    const srv = await scriptedServer('serve', cleanups, {
      status: 403,
      headers: { 'retry-after': '1' },
      body: bannedBody(until, 1),
    });
    const started = Date.now();
    const { c, trpc, seen } = client(srv, () => fetchTicket(`${srv.httpUrl}/ws/ticket`));
    await expect.poll(() => seen.auth).toEqual([4030]);
    expect(seen.stops).toHaveLength(1);
    expect(seen.stops[0]).toMatchObject({
      kind: 'banned',
      code: 4030,
      reason: `banned until ${until.toISOString()}`,
    });
    // The end is taken as now + Retry-After (1 s, rounded up by the server), not the absolute
    // `until`, so the client's clock skew does not move it.
    const end = seen.stops[0]!.until!;
    expect(end).toBeGreaterThanOrEqual(started + 1000);
    expect(end).toBeLessThanOrEqual(Date.now() + 1000);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(TicketError);
    expect(seen.errors[0]).toMatchObject({ status: 403, code: 'BANNED', retryAfterMs: 1000 });
    const error = await rejection(trpc.ping.query(), 500);
    expect(((error as TRPCClientError<Router>).cause as ClientStoppedError).stop.kind).toBe(
      'banned',
    );
    expect(c.restart()).toBe(false);
    await sleep(300);
    expect(srv.tickets()).toBe(1);
    expect(srv.connections()).toBe(0);
    // Once it has ended, and the endpoint issues tickets again, restart() reconnects.
    await sleep(Math.max(0, end - Date.now()) + 20);
    srv.setTicket({ status: 200, body: JSON.stringify({ ticket: 'fresh', expiresIn: 10 }) });
    expect(c.restart()).toBe(true);
    expect(await trpc.ping.query()).toBe('ping');
    expect(srv.tickets()).toBe(2);
    expect(srv.ticketsPresented()).toEqual(['fresh']);
  });

  it('a BANNED body without `until` ends at Retry-After', async () => {
    const srv = await scriptedServer('serve', cleanups, {
      status: 403,
      headers: { 'retry-after': '30' },
      body: JSON.stringify({ error: { code: 'BANNED', message: 'banned' } }),
    });
    const started = Date.now();
    const { seen } = client(srv, () => fetchTicket(`${srv.httpUrl}/ws/ticket`));
    await expect.poll(() => seen.stops).toHaveLength(1);
    const until = seen.stops[0]!.until!;
    expect(until).toBeGreaterThanOrEqual(started + 30_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 30_000);
  });
});

describe('a failing ticket fetch is reported, backs off, and gives up', () => {
  it('a relative ticket URL outside a browser: each failure reported, 4 attempts, then gave-up', async () => {
    const srv = await scriptedServer('serve', cleanups);
    const { seen } = client(srv, () => fetchTicket('/ws/ticket'), {
      backoff: { baseMs: 5, maxMs: 20, maxAttempts: 4 },
    });
    await expect.poll(() => seen.stops).toHaveLength(1);
    expect(seen.stops[0]).toMatchObject({ kind: 'gave-up', code: 0 });
    expect(seen.stops[0]!.error).toBeInstanceOf(TicketError);
    expect(seen.errors).toHaveLength(4);
    for (const e of seen.errors) expect(e).toMatchObject({ status: 0, code: 'BAD_URL' });
    await sleep(300);
    expect(seen.errors).toHaveLength(4);
    expect(srv.connections()).toBe(0);
  });

  it("the app's own getTicket (a bare fetch of a relative URL, as in the README) is reported too", async () => {
    const srv = await scriptedServer('serve', cleanups);
    let calls = 0;
    const { seen } = client(
      srv,
      async () => {
        calls++;
        const res = await fetch('/ws/ticket', { method: 'POST' });
        return ((await res.json()) as { ticket: string }).ticket;
      },
      { backoff: { baseMs: 5, maxMs: 20, maxAttempts: 3 } },
    );
    // Before the fix: silent, and retried without end.
    await expect.poll(() => seen.stops).toHaveLength(1);
    expect(seen.stops[0]!.kind).toBe('gave-up');
    expect(seen.errors).toHaveLength(3);
    for (const e of seen.errors) expect(e).toBeInstanceOf(TypeError);
    await sleep(300);
    expect(calls).toBe(3);
  });

  it('a 503 with Retry-After: the next fetch waits for it; each failure is reported', async () => {
    const at: number[] = [];
    const srv = await scriptedServer('serve', cleanups, () => {
      at.push(Date.now());
      return {
        status: 503,
        headers: { 'retry-after': '1' },
        body: '{"error":"service unavailable"}',
      };
    });
    const { c, seen } = client(srv, () => fetchTicket(`${srv.httpUrl}/ws/ticket`), {
      backoff: { baseMs: 5, maxMs: 200, maxAttempts: 3 },
    });
    await expect.poll(() => at.length, { timeout: 3000 }).toBe(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
    expect(seen.errors[0]).toMatchObject({
      status: 503,
      code: 'HTTP_503',
      message: 'service unavailable',
      retryAfterMs: 1000,
    });
    await c.close();
    await sleep(1200);
    expect(at.length).toBe(2);
    expect(seen.stops).toEqual([]);
  });

  it('nothing listening: NETWORK failures, reported and bounded', async () => {
    const srv = await scriptedServer('serve', cleanups);
    const port = await deadPort();
    const { seen } = client(srv, () => fetchTicket(`http://127.0.0.1:${port}/ws/ticket`), {
      backoff: { baseMs: 5, maxMs: 20, maxAttempts: 3 },
    });
    await expect.poll(() => seen.stops).toHaveLength(1);
    expect(seen.errors).toHaveLength(3);
    for (const e of seen.errors) expect(e).toMatchObject({ status: 0, code: 'NETWORK' });
    expect(srv.connections()).toBe(0);
  });

  it('a 401 refreshes the token before the next ticket fetch', async () => {
    const log: string[] = [];
    const srv = await scriptedServer('serve', cleanups, (n) => {
      log.push(`ticket ${n}`);
      return n === 1
        ? { status: 401, body: '{"error":"invalid token"}' }
        : { status: 200, body: JSON.stringify({ ticket: `t${n}` }) };
    });
    const { trpc, seen } = client(srv, () => fetchTicket(`${srv.httpUrl}/ws/ticket`), {
      refreshToken: async () => {
        log.push('refresh');
        return 'new';
      },
    });
    expect(await trpc.ping.query()).toBe('ping');
    expect(log).toEqual(['ticket 1', 'refresh', 'ticket 2']);
    expect(seen.errors).toHaveLength(1);
    expect(srv.ticketsPresented()).toEqual(['t2']);
  });
});
