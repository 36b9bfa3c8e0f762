import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../../adapters/node.ts';
import { createDemoApp } from '../../../examples/demo/app.ts';
import {
  createGuard,
  GuardConfigError,
  healthHandler,
  metricsHandler,
  statsHandler,
  ticketHandler,
} from '../../../src/mod.ts';
import type { GuardedServer } from '../../../src/transport/serve.ts';

const secret = 'http-test-secret-that-is-32-bytes-long';
const sign = (sub: string, roles: string[], exp: string | number = '5m') =>
  new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
const APP = 'https://app.example.com';
const guard = createGuard({
  origins: [APP],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  permissions: { roles: { admin: ['*'], user: ['chat.*'] } },
  limits: { connectRate: false },
  audit: false,
});
const tickets = ticketHandler(guard);
const post = (headers: Record<string, string>, method = 'POST') =>
  tickets(new Request('http://app/ws/ticket', { method, headers }));

describe('ticket endpoint', () => {
  it('issues a one-time ticket for a valid bearer from the app origin, uncached and nosniff', async () => {
    const res = await post({
      origin: APP,
      authorization: `Bearer ${await sign('alice', ['user'])}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const body = (await res.json()) as { ticket: string; expiresIn: number };
    expect(body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.expiresIn).toBeGreaterThan(0);
    expect(body.expiresIn).toBeLessThanOrEqual(30);
    const ws = (t: string) =>
      guard.upgrade({
        request: new Request(`http://app/ws?ticket=${t}`, { headers: { origin: APP } }),
        ip: '127.0.0.1',
      });
    const first = await ws(body.ticket);
    expect(first.ok).toBe(true);
    const replay = await ws(body.ticket);
    expect(replay.ok === false && replay.closeCode).toBe(4001);
    if (first.ok) await guard.close(first.connection);
  });

  it('refuses another site: foreign Origin on POST and on the preflight', async () => {
    const token = await sign('alice', ['user']);
    expect(
      (await post({ origin: 'https://evil.example', authorization: `Bearer ${token}` })).status,
    ).toBe(403);
    const pre = await post(
      { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      'OPTIONS',
    );
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('cannot be driven by cookies alone', async () => {
    const res = await post({ origin: APP, cookie: `session=${await sign('alice', ['user'])}` });
    expect(res.status).toBe(401);
  });

  it('refuses missing, malformed, forged and expired bearers, and other methods', async () => {
    expect((await post({ origin: APP })).status).toBe(401);
    expect((await post({ origin: APP, authorization: 'Basic abc' })).status).toBe(401);
    expect((await post({ origin: APP, authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await post({ origin: APP, authorization: `Bearer ${forged}` })).status).toBe(401);
    expect(
      (
        await post({
          origin: APP,
          authorization: `Bearer ${await sign('alice', [], Math.floor(Date.now() / 1000) - 60)}`,
        })
      ).status,
    ).toBe(401);
    expect(
      (await post({ origin: APP, authorization: `Bearer ${'a'.repeat(10_000)}` })).status,
    ).toBe(401);
    expect((await post({ origin: APP }, 'GET')).status).toBe(405);
  });
});

describe('stats, metrics, health', () => {
  const stats = statsHandler(guard);
  const get = (token?: string) =>
    stats(
      new Request('http://app/ws/stats', {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );

  it('serves stats to an admin bearer only, without credentials in it', async () => {
    expect((await get()).status).toBe(401);
    expect((await get(await sign('bob', ['user']))).status).toBe(403);
    const res = await get(await sign('root', ['admin']));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toHaveProperty('connections');
    expect(body).toHaveProperty('rejections');
    expect(Array.isArray(body['connectionList'])).toBe(true);
  });

  it('serves Prometheus text and health', async () => {
    const m = await metricsHandler(guard, { public: true })(new Request('http://app/metrics'));
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(await m.text()).toMatch(/^# HELP wsguard_connections /m);
    const h = healthHandler()(new Request('http://app/healthz'));
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('ok');
  });
});

describe('metrics endpoint: protected unless said public', () => {
  const TOKEN = 'metrics-token-0123456789abcdef-0123456789abcdef';
  const scrape = (headers: Record<string, string> = {}, method = 'GET') =>
    metricsHandler(guard, { token: TOKEN })(new Request('http://app/metrics', { method, headers }));

  it('refuses a scrape without the bearer token, or with a wrong one, with 401 and no metrics', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Basic abc' },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { cookie: `token=${TOKEN}` },
    ]) {
      const res = await scrape(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toContain('wsguard_');
    }
    const ok = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP wsguard_connections /m);
    expect((await scrape({ authorization: `Bearer ${TOKEN}` }, 'POST')).status).toBe(405);
  });

  it('accepts any of several tokens (rotation), and only those', async () => {
    const next = 'next-metrics-token-0123456789abcdef-012345678';
    const m = metricsHandler(guard, { token: [TOKEN, next] });
    const get = (t: string) =>
      m(new Request('http://app/metrics', { headers: { authorization: `Bearer ${t}` } }));
    expect((await get(TOKEN)).status).toBe(200);
    expect((await get(next)).status).toBe(200);
    expect((await get(`${next}0`)).status).toBe(401);
  });

  it('will not be built unprotected by default, nor with a weak token', () => {
    expect(() => metricsHandler(guard, undefined as never)).toThrow(GuardConfigError);
    expect(() => metricsHandler(guard, {} as never)).toThrow(GuardConfigError);
    expect(() => metricsHandler(guard, { token: 'short' })).toThrow(/32 to 8192/);
    expect(() => metricsHandler(guard, { token: ' '.repeat(40) })).toThrow(GuardConfigError);
    expect(() => metricsHandler(guard, { token: [] })).toThrow(GuardConfigError);
    expect(() => metricsHandler(guard, { public: true, token: TOKEN } as never)).toThrow(
      /not both/,
    );
    expect(() => metricsHandler(guard, { public: 'yes' } as never)).toThrow(GuardConfigError);
  });

  it('serves without a token only when `public: true` is passed', async () => {
    const res = await metricsHandler(guard, { public: true })(new Request('http://app/metrics'));
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^# TYPE wsguard_closes_total counter/m);
  });
});

/** A request body: `chunk` bytes per pull, `chunks` times (or for ever); pulls and cancels counted. */
function probeBody(chunk: number, chunks = Number.POSITIVE_INFINITY) {
  const probe = { pulled: 0, cancelled: false, body: undefined as unknown as ReadableStream };
  const bytes = new Uint8Array(chunk).fill(97);
  probe.body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (probe.pulled >= chunk * chunks) {
          controller.close();
          return;
        }
        probe.pulled += chunk;
        controller.enqueue(bytes.slice());
      },
      cancel() {
        probe.cancelled = true;
      },
    },
    { highWaterMark: 0 }, // nothing is pulled until the handler reads
  );
  return probe;
}

describe('ticket endpoint: bounded body', () => {
  const handler = ticketHandler(guard, { maxBodyBytes: 1024, bodyTimeoutMs: 200 });
  const send = (body: ReadableStream, headers: Record<string, string> = {}) =>
    handler(
      new Request('http://app/ws/ticket', {
        method: 'POST',
        headers: { origin: APP, ...headers },
        body,
        duplex: 'half',
      } as RequestInit),
    );

  it('refuses a Content-Length over the limit with 413 before reading a byte', async () => {
    const probe = probeBody(64 * 1024);
    const res = await send(probe.body, { 'content-length': String(32 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(probe.pulled).toBe(0);
    expect(probe.cancelled).toBe(true);
  });

  it('stops a chunked body at the limit: 413, the stream cancelled, not read on', async () => {
    const probe = probeBody(600);
    const res = await send(probe.body);
    expect(res.status).toBe(413);
    expect(probe.pulled).toBeLessThanOrEqual(1200);
    expect(probe.cancelled).toBe(true);
  });

  it('answers 408 to a body that does not arrive in time, 400 to a malformed length', async () => {
    const stalled = { cancelled: false };
    const body = new ReadableStream(
      {
        pull: () => new Promise(() => {}),
        cancel() {
          stalled.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const t0 = Date.now();
    const res = await send(body);
    expect(res.status).toBe(408);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(stalled.cancelled).toBe(true);
    expect((await send(probeBody(2, 1).body, { 'content-length': '2x' })).status).toBe(400);
  });

  it('still issues a ticket when the body is small (a client posting `{}`)', async () => {
    const res = await send(probeBody(2, 1).body, {
      authorization: `Bearer ${await sign('alice', ['user'])}`,
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
  });
});

/**
 * A raw HTTP/1.1 request over loopback: `head` as written, then (for `chunked`) up to `chunked`
 * bytes in 64 KiB chunks, sent only while no answer has come (a client that reads answers stops
 * there). Resolves when the server closes the connection, or after `timeoutMs`.
 */
function rawRequest(
  base: string,
  head: string,
  chunked = 0,
  timeoutMs = 10_000,
): Promise<{ status: number | undefined; sent: number; ms: number }> {
  const { port } = new URL(base);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 97);
    let got = '';
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : undefined, sent, ms: Date.now() - t0 });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (d) => {
      got += d.toString('latin1');
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(head);
    const pump = (): void => {
      while (!done && got === '' && sent < chunked) {
        sent += chunk.length;
        const ok = socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk);
        socket.write('\r\n');
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!done && got === '' && chunked > 0) socket.write('0\r\n\r\n');
    };
    if (chunked > 0) pump();
  });
}

/** The peak growth of RSS and of heap + external memory while `run` runs (sampled every 2 ms). */
async function peakGrowth<T>(
  run: () => Promise<T>,
): Promise<{ result: T; rss: number; heap: number }> {
  const base = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - base.rss);
    heap = Math.max(heap, m.heapUsed + m.external - base.heapUsed - base.external);
  };
  const timer = setInterval(sample, 2);
  try {
    const result = await run();
    sample();
    return { result, rss, heap };
  } finally {
    clearInterval(timer);
  }
}

describe('32 MiB bodies against a real server (Node adapter): 413, never read whole', () => {
  const MiB = 1024 * 1024;
  const ORIGIN = 'http://127.0.0.1';
  const METRICS_TOKEN = 'demo-metrics-token-0123456789abcdef-0123456789';
  let server: GuardedServer;
  const head = (path: string, extra: string) =>
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: ${ORIGIN}\r\ncontent-type: application/json\r\nconnection: close\r\n${extra}\r\n`;

  beforeAll(async () => {
    const app = createDemoApp({
      origins: [ORIGIN],
      secret,
      metricsToken: METRICS_TOKEN,
      assets: {},
    });
    server = await serve({
      guard: app.guard,
      fetch: (request, client) => app.fetch(request, client.ip),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const path of ['/auth/login', '/ws/ticket']) {
    it(`${path}: a declared 32 MiB Content-Length is refused at once, before any body byte`, async () => {
      const r = await rawRequest(
        server.url,
        head(path, `content-length: ${32 * MiB}\r\n`),
        0,
        3000,
      );
      expect(r.status).toBe(413);
      expect(r.ms).toBeLessThan(2000);
    });

    it(`${path}: a chunked 32 MiB body is cut at the limit with 413, memory bounded`, async () => {
      const { result, rss, heap } = await peakGrowth(() =>
        rawRequest(server.url, head(path, 'transfer-encoding: chunked\r\n'), 32 * MiB),
      );
      console.log(
        `[measure] ${path} chunked 32 MiB: status ${result.status}, client wrote ${(result.sent / MiB).toFixed(1)} MiB before the answer, peak RSS +${(rss / MiB).toFixed(1)} MiB, heap+external +${(heap / MiB).toFixed(1)} MiB, ${result.ms} ms`,
      );
      expect(result.status).toBe(413);
      expect(result.sent).toBeLessThan(16 * MiB);
      expect(heap).toBeLessThan(16 * MiB);
      expect(rss).toBeLessThan(24 * MiB);
    });
  }

  it('the demo login still works with a small JSON body; other types get 415', async () => {
    const login = (body: string, type = 'application/json') =>
      fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { origin: ORIGIN, 'content-type': type },
        body,
      });
    const ok = await login(JSON.stringify({ username: 'alice', password: 'alice' }));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { token?: string }).token).toMatch(/^ey/);
    expect((await login('username=alice', 'application/x-www-form-urlencoded')).status).toBe(415);
  });

  it('the demo’s /metrics asks for the token', async () => {
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(await none.text()).not.toContain('wsguard_');
    const ok = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP wsguard_connections /m);
  });
});

describe('ticket endpoint: minting is rate-limited per user', () => {
  it('refuses a user minting tickets in a loop with 429 + Retry-After, leaving other users alone', async () => {
    // Each ticket sits in the shared store until redeemed or ended: an account minting them in a
    // loop would fill it.
    const handler = ticketHandler(guard, { rate: { limit: 5, windowMs: 60_000, burst: 5 } });
    const mint = async (sub: string) =>
      handler(
        new Request('http://app/ws/ticket', {
          method: 'POST',
          headers: { origin: APP, authorization: `Bearer ${await sign(sub, ['user'])}` },
        }),
      );
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await mint('minter')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = await mint('minter');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await mint('someone-else')).status).toBe(200);
  });
});
