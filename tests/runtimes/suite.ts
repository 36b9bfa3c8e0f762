/**
 * The one end-to-end suite every runtime passes: a real fixture server process (see
 * `fixture-server.ts`), raw `ws` clients and hand-written handshakes and frames. After every case
 * the server still serves a new client and every guard's `connections` is back to 0.
 *
 * A runtime gap is an explicit `skipIf` whose reason is printed, never a silent pass.
 */
import type { Socket } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { FIXTURE_ORIGIN, FIXTURE_SECRET, TRUSTED_PROXY } from './constants.ts';
import { type Fixture, type Runtime, startFixture } from './harness.ts';
import {
  frame,
  type Handshake,
  handshake,
  holdPartialHeads,
  readBody,
  readFrames,
  sendHandshake,
} from './raw.ts';

const secret = new TextEncoder().encode(FIXTURE_SECRET);

async function token(sub: string, expiresAt?: number, key: Uint8Array = secret): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now - 7200)
    .setExpirationTime(expiresAt ?? now + 600)
    .sign(key);
}

/** Poll `check` until it holds (bounded); fails with `describe()` otherwise. */
async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 8000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What a `ws` client ended with: an HTTP refusal or a close code, and the frames it got. */
interface Outcome {
  readonly status?: number;
  readonly code?: number;
  readonly reason?: string;
  readonly messages: unknown[];
}

interface Client {
  readonly ws: WebSocket;
  readonly messages: unknown[];
  /** Resolves when open, or with the HTTP refusal. */
  readonly opened: Promise<number | undefined>;
  readonly done: Promise<Outcome>;
  next(): Promise<unknown>;
}

const skip = (runtime: Runtime, gaps: readonly Runtime[], reason: string): boolean => {
  const skipped = gaps.includes(runtime);
  if (skipped) console.info(`[runtimes:${runtime}] skipped: ${reason}`);
  return skipped;
};

/**
 * What the suite runs against: a runtime's own adapter, or a framework integration on a runtime.
 * An integration that cannot give a guarantee the adapters give says so here, per case: each
 * case whose title contains a key of `gaps` is skipped, and the reason printed.
 */
export interface SuiteTarget {
  /** Shown in the suite's title: `hono on bun`, `express`. */
  readonly name: string;
  /** The runtime the fixture runs on (the runtime-specific cases follow it). */
  readonly runtime: Runtime;
  /** The fixture, relative to the repository; it follows `fixture-parts.ts`'s protocol. */
  readonly fixture: string;
  /** Case title fragment → why this target cannot pass it. */
  readonly gaps?: Readonly<Record<string, string>>;
}

/** `it`, skipping (with the reason printed) the cases `target` declares it cannot pass. */
function casesFor(target: SuiteTarget): typeof vitestIt {
  const gapOf = (title: unknown): string | undefined => {
    for (const [fragment, reason] of Object.entries(target.gaps ?? {})) {
      if (String(title).includes(fragment)) return reason;
    }
    return undefined;
  };
  const wrap = (base: typeof vitestIt) =>
    ((title: string, ...rest: unknown[]) => {
      const gap = gapOf(title);
      if (gap === undefined) return (base as (...a: unknown[]) => unknown)(title, ...rest);
      console.info(`[runtimes:${target.name}] skipped "${title}": ${gap}`);
      return (vitestIt.skip as (...a: unknown[]) => unknown)(title, ...rest);
    }) as unknown as typeof vitestIt;
  const it = wrap(vitestIt);
  return Object.assign(it, {
    runIf: (condition: unknown) => (condition ? it : vitestIt.skip),
    skipIf: (condition: unknown) => (condition ? vitestIt.skip : it),
    each: vitestIt.each,
    skip: vitestIt.skip,
  }) as typeof vitestIt;
}

/** Register the suite for a runtime's own adapter, or for an integration (`SuiteTarget`). */
export function runtimeSuite(on: Runtime | SuiteTarget): void {
  const target: SuiteTarget =
    typeof on === 'string'
      ? { name: on, runtime: on, fixture: 'tests/runtimes/fixture-server.ts' }
      : on;
  const runtime = target.runtime;
  const it = casesFor(target);
  describe(`guarded server on ${target.name}`, () => {
    let fixture: Fixture;
    let shutDown = false;
    const open: { close(): void }[] = [];
    let addressCounter = 0;
    /** A distinct loopback source address per connection: penalties stay apart. */
    const ip = (): string => {
      addressCounter++;
      return `127.1.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
    };
    const wsUrl = (base: string, path = '/ws') => `${base.replace(/^http/, 'ws')}${path}`;

    const stats = async () => {
      const res = await fetch(`${fixture.urls.main}/stats`);
      return (await res.json()) as {
        stats: Record<
          string,
          {
            connections: number;
            accepted: number;
            messageRejections: Record<string, number>;
          }
        >;
        pushDone: number;
        rss: number;
      };
    };
    /** Messages the main guard refused so far for `reason` (its own or the runtime's). */
    const refused = async (reason: string): Promise<number> =>
      (await stats()).stats.main!.messageRejections[reason] ?? 0;
    const allClosed = async () =>
      Object.values((await stats()).stats).every((g) => g.connections === 0);

    const connect = (url: string, options: ClientOptions & { protocols?: string[] } = {}) => {
      const { protocols, ...rest } = options;
      const isTls = url.startsWith('wss:');
      const ws = new WebSocket(url, protocols ?? [], {
        perMessageDeflate: false,
        localAddress: ip(),
        ...(isTls ? { ca: fixture.cert } : {}),
        ...rest,
      });
      open.push({ close: () => ws.terminate() });
      const messages: unknown[] = [];
      const waiting: ((m: unknown) => void)[] = [];
      let status: number | undefined;
      const opened = new Promise<number | undefined>((resolve) => {
        ws.once('open', () => resolve(undefined));
        ws.once('unexpected-response', (req, res) => {
          status = res.statusCode;
          resolve(status);
          res.resume();
          req.destroy();
        });
        ws.once('close', () => resolve(status));
      });
      const done = new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => {
          ws.terminate();
          resolve({ status, messages, reason: 'timeout' });
        }, 10_000);
        ws.on('error', () => {}); // the outcome is what matters
        ws.once('close', (code, reason) => {
          clearTimeout(timer);
          resolve(
            status !== undefined
              ? { status, messages }
              : { code, reason: reason.toString(), messages },
          );
        });
      });
      ws.on('message', (data) => {
        let value: unknown = data.toString();
        try {
          value = JSON.parse(value as string);
        } catch {
          // keep text
        }
        const w = waiting.shift();
        if (w) w(value);
        else messages.push(value);
      });
      const client: Client = {
        ws,
        messages,
        opened,
        done,
        next: () =>
          messages.length > 0
            ? Promise.resolve(messages.shift())
            : new Promise((resolve, reject) => {
                const t = setTimeout(() => reject(new Error('no message within 5 s')), 5000);
                waiting.push((m) => {
                  clearTimeout(t);
                  resolve(m);
                });
              }),
      };
      return client;
    };

    const bearer = async (sub = 'alice') => ({ authorization: `Bearer ${await token(sub)}` });
    const raw = async (
      options: Omit<Parameters<typeof handshake>[0], 'url'> & { url?: string },
    ): Promise<Handshake> => {
      const h = await handshake({
        url: wsUrl(fixture.urls.main),
        localAddress: ip(),
        ...options,
      });
      open.push({ close: () => h.socket.destroy() });
      return h;
    };

    beforeAll(async () => {
      fixture = await startFixture(runtime, target.fixture);
    }, 90_000);

    afterAll(async () => {
      for (const c of open.splice(0)) c.close();
      await fixture?.stop();
    });

    afterEach(async () => {
      for (const c of open.splice(0)) c.close();
      if (shutDown) return;
      try {
        await until(allClosed, 'every guard back to 0 connections after all sockets closed');
        // The server still serves a new client.
        const c = connect(wsUrl(fixture.urls.main), { headers: await bearer('bob') });
        expect(await c.opened).toBeUndefined();
        c.ws.send(JSON.stringify({ still: 'serving' }));
        expect(await c.next()).toMatchObject({ echo: { still: 'serving' }, sub: 'bob' });
        c.ws.close();
        await c.done;
        await until(allClosed, 'back to 0 connections after the health check');
      } catch (error) {
        throw new Error(`${String(error)}\nfixture stderr:\n${fixture.stderr().slice(-4000)}`);
      }
    });

    // ---- handshakes -------------------------------------------------------------------------

    it('refuses foreign and look-alike origins with 403 at the handshake', async () => {
      const origins = [
        'https://evil.example.com',
        'https://app.example.com.evil.test',
        'https://app-example.com',
        'http://app.example.com',
        'https://app.example.com:444',
        'https://APP.EXAMPLE.COM.evil.test',
        'null',
      ];
      for (const origin of origins) {
        const h = await raw({ headers: { origin, ...(await bearer()) } });
        expect(h.status, origin).toBe(403);
        expect(await readBody(h)).toBe('origin not allowed');
        h.socket.destroy();
      }
      const ok = await raw({ headers: { origin: FIXTURE_ORIGIN, ...(await bearer()) } });
      expect(ok.status).toBe(101);
    });

    it('accepts then closes with 4001 when credentials are missing', async () => {
      const c = connect(wsUrl(fixture.urls.main), { origin: FIXTURE_ORIGIN });
      expect(await c.done).toMatchObject({ code: 4001, reason: 'credentials required' });
    });

    it('closes with 4001 for a bad token (wrong key, garbage)', async () => {
      const wrongKey = await token('alice', undefined, new TextEncoder().encode('x'.repeat(40)));
      for (const t of [wrongKey, 'not-a-jwt']) {
        const c = connect(wsUrl(fixture.urls.main), { headers: { authorization: `Bearer ${t}` } });
        expect(await c.done).toMatchObject({ code: 4001 });
      }
    });

    it('closes with 4002 for an expired token', async () => {
      const expired = await token('alice', Math.floor(Date.now() / 1000) - 3600);
      const c = connect(wsUrl(fixture.urls.main, `/ws?token=${expired}`));
      expect(await c.done).toMatchObject({ code: 4002 });
    });

    it('redeems a ticket once: the second use closes with 4001', async () => {
      const res = await fetch(`${fixture.urls.main}/ticket`, {
        method: 'POST',
        headers: await bearer('carol'),
      });
      expect(res.status).toBe(200);
      const { ticket } = (await res.json()) as { ticket: string };
      const first = connect(wsUrl(fixture.urls.main, `/ws?ticket=${ticket}`));
      expect(await first.opened).toBeUndefined();
      first.ws.send('{"hi":1}');
      expect(await first.next()).toMatchObject({ sub: 'carol' });
      const replay = connect(wsUrl(fixture.urls.main, `/ws?ticket=${ticket}`));
      expect(await replay.done).toMatchObject({ code: 4001 });
      first.ws.close();
      await first.done;
    });

    it('survives 2,000 request headers without upgrading', async () => {
      const headers = [
        `Authorization: Bearer ${await token('alice')}`,
        ...Array.from({ length: 2000 }, (_, i) => `X-Pad-${i}: v`),
      ];
      const h = await raw({ headers });
      expect(h.status).not.toBe(101);
      h.socket.destroy();
    });

    it('never echoes a 100 KB Sec-WebSocket-Protocol', async () => {
      const protocol = Array.from({ length: 20_000 }, (_, i) => `p${i}`)
        .join(', ')
        .slice(0, 100_000);
      const h = await raw({
        headers: { ...(await bearer()), 'sec-websocket-protocol': protocol },
      });
      if (h.status === 101)
        expect((h.headers['sec-websocket-protocol'] ?? '').length).toBeLessThan(65);
      else expect(h.status).toBeGreaterThanOrEqual(400);
      h.socket.destroy();
    });

    it('stays up and takes no cap when the client resets during a slow upgrade check', async () => {
      const before = (await stats()).stats.main!.accepted;
      const socket = await sendHandshake({
        url: wsUrl(fixture.urls.main),
        localAddress: ip(),
        headers: await bearer('slow'),
      });
      open.push({ close: () => socket.destroy() });
      // The fixture's principal hook holds 'slow' for 800 ms; reset while it waits.
      await new Promise((r) => setTimeout(r, 100));
      socket.resetAndDestroy();
      await until(
        async () => {
          const s = (await stats()).stats.main!;
          return s.accepted > before && s.connections === 0;
        },
        'the slow check finished and its connection was released',
        12_000,
      );
    });

    // ---- deadlines and versions --------------------------------------------------------------

    it('closes 300 held partial request heads at the 10 s header deadline and serves others meanwhile', async () => {
      // Slowloris: 200 connections that stop mid-head, 100 that keep trickling header lines.
      const url = wsUrl(fixture.urls.main);
      const held = [
        ...(await holdPartialHeads(url, 200)),
        ...(await holdPartialHeads(url, 100, { trickleMs: 500 })),
      ];
      open.push({
        close: () => {
          for (const h of held) h.socket.destroy();
        },
      });
      // A legitimate client is served while they are held.
      const c = connect(url, { headers: await bearer('grace') });
      expect(await c.opened).toBeUndefined();
      c.ws.send('{"held":true}');
      expect(await c.next()).toMatchObject({ echo: { held: true }, sub: 'grace' });
      c.ws.close();
      await c.done;
      expect((await fetch(`${fixture.urls.main}/stats`)).status).toBe(200);
      expect(held.filter((h) => h.closedAt() !== undefined)).toHaveLength(0);
      await until(() => held.every((h) => h.closedAt() !== undefined), 'every head closed', 20_000);
      const times = held.map((h) => h.closedAt()!).sort((a, b) => a - b);
      const answers = [...new Set(held.map((h) => h.answer() || '(no response)'))];
      console.info(
        `[runtimes:${runtime}] ${held.length} held partial heads closed after ${times[0]}-${times.at(-1)} ms: ${answers.join(', ')}`,
      );
      expect(times[0]).toBeGreaterThanOrEqual(9500);
      expect(times.at(-1)).toBeLessThanOrEqual(15_500);
      // Node and Deno's front answer 408; Bun closes without a response.
      expect(answers).toEqual(
        runtime === 'bun' ? ['(no response)'] : ['HTTP/1.1 408 Request Timeout'],
      );
    }, 30_000);

    it('times out a partial request that follows a complete one on the same connection', async () => {
      const host = new URL(fixture.urls.main).host;
      const [h] = await holdPartialHeads(fixture.urls.main, 1, {
        prefix: `GET /stats HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /stats HTTP/1.1\r\nHost: ${host}\r\n`,
      });
      open.push({ close: () => h!.socket.destroy() });
      await until(() => h!.closedAt() !== undefined, 'the connection closed', 20_000);
      // Node and Bun time the second head out; Deno's front ends the connection after the first
      // response (every plain request is sent on with `Connection: close`).
      expect(h!.answer()).toMatch(/^HTTP\/1\.1 200\b/);
      expect(h!.closedAt()).toBeLessThanOrEqual(15_500);
    }, 30_000);

    it.skipIf(
      skip(
        runtime,
        ['bun'],
        "Bun exposes no request line's HTTP version and upgrades an HTTP/1.0 handshake; see the Bun case below",
      ),
    )(
      'refuses an HTTP/1.0 handshake with 400, never 101 (RFC 6455: HTTP/1.1 or higher)',
      async () => {
        const before = (await stats()).stats.main!.accepted;
        for (const version of ['1.0', '0.9']) {
          const h = await raw({ headers: await bearer(), version });
          expect(h.status, `HTTP/${version}`).toBe(400);
          h.socket.destroy();
        }
        // Refused by the shape check: the guard never accepted (no cap taken, no ticket spent).
        expect((await stats()).stats.main!.accepted).toBe(before);
        const ok = await raw({ headers: await bearer(), version: '1.1' });
        expect(ok.status).toBe(101);
      },
    );

    it.runIf(runtime === 'bun')(
      'Bun: an HTTP/1.0 handshake is upgraded (the version is not exposed); HTTP/0.9 gets 505 from Bun',
      async () => {
        const old = await raw({ headers: await bearer(), version: '1.0' });
        expect(old.status).toBe(101);
        const ancient = await raw({ headers: await bearer(), version: '0.9' });
        expect(ancient.status).toBe(505);
      },
    );

    it.runIf(runtime === 'deno')(
      'Deno without the front (headersTimeoutMs: 0): an HTTP/1.0 handshake is upgraded',
      async () => {
        console.info(
          "[runtimes:deno] gap with headersTimeoutMs: 0 (plain Deno.serve): the request line's HTTP version is not exposed, HTTP/1.0 handshakes are upgraded",
        );
        const h = await raw({
          url: wsUrl(fixture.urls.bare),
          headers: await bearer(),
          version: '1.0',
        });
        expect(h.status).toBe(101);
      },
    );

    it('delivers the close code while the client keeps sending (20 runs of each)', async () => {
      const flood = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame(`{"n":${i}}`)));
      const malformed = Buffer.concat(Array.from({ length: 6 }, () => frame('{not json')));
      const cases = {
        'flood (1,000 frames) 4029': async () => {
          const h = await raw({ headers: await bearer() });
          h.socket.write(flood);
          return [h, 4029] as const;
        },
        'six malformed frames 1008': async () => {
          const h = await raw({ headers: await bearer() });
          h.socket.write(malformed);
          return [h, 1008] as const;
        },
        'a frame pipelined behind an invalid token 4001': async () => {
          const h = await raw({
            headers: { authorization: 'Bearer not-a-jwt' },
            trailing: frame('{"n":1}'),
          });
          return [h, 4001] as const;
        },
      };
      const delivered: Record<string, number> = {};
      for (const [name, start] of Object.entries(cases)) {
        delivered[name] = 0;
        for (let i = 0; i < 20; i++) {
          const [h, code] = await start();
          const r = await readFrames(h.socket, h.rest, 5000);
          if (r.closeCode === code) delivered[name]++;
          h.socket.destroy();
        }
      }
      console.info(
        `[runtimes:${runtime}] close codes delivered: ${Object.entries(delivered)
          .map(([name, n]) => `${name}: ${n}/20`)
          .join('; ')}`,
      );
      expect(Object.values(delivered)).toEqual([20, 20, 20]);
    }, 30_000);

    // ---- frames -----------------------------------------------------------------------------

    it('processes frames sent in the same write as the handshake after the state exists', async () => {
      const h = await raw({
        headers: await bearer('dave'),
        trailing: Buffer.concat([frame('{"n":1}'), frame('{"n":2}')]),
      });
      expect(h.status).toBe(101);
      const r = await readFrames(h.socket, h.rest, 5000, 2);
      expect(r.texts.map((t) => JSON.parse(t))).toEqual([
        { echo: { n: 1 }, sub: 'dave', ip: expect.any(String) },
        { echo: { n: 2 }, sub: 'dave', ip: expect.any(String) },
      ]);
    });

    it.runIf(runtime === 'bun')(
      'Bun: frames in the same write as a handshake whose check waits on I/O are refused with 400, never processed',
      async () => {
        // `slow`: the fixture's principal hook sleeps, like a store or key-set round trip.
        const h = await raw({ headers: await bearer('slow'), trailing: frame('{"n":1}') });
        expect(h.status).toBe(400);
        h.socket.destroy();
      },
    );

    it('first-message auth: frames behind the credential wait for it, in order', async () => {
      const auth = JSON.stringify({ type: 'auth', token: await token('erin') });
      const h = await raw({
        url: wsUrl(fixture.urls.first),
        trailing: Buffer.concat([frame(auth), frame('{"n":1}'), frame('{"n":2}')]),
      });
      expect(h.status).toBe(101);
      const r = await readFrames(h.socket, h.rest, 5000, 3);
      expect(r.texts.slice(0, 3).map((t) => JSON.parse(t))).toEqual([
        { authenticated: true, sub: 'erin' },
        { echo: { n: 1 }, sub: 'erin', ip: expect.any(String) },
        { echo: { n: 2 }, sub: 'erin', ip: expect.any(String) },
      ]);
    });

    it('first-message auth: no credential in time closes with 4001', async () => {
      const c = connect(wsUrl(fixture.urls.first));
      expect(await c.opened).toBeUndefined();
      expect(await c.done).toMatchObject({ code: 4001, reason: 'authentication timeout' });
    });

    // Deno: its front refuses the frame from its header (Deno.serve alone would wait for it all).
    it('closes a header-only frame declaring 50 MiB with 1009 without buffering it', async () => {
      const rssBefore = (await stats()).rss;
      const h = await raw({ headers: await bearer() });
      expect(h.status).toBe(101);
      h.socket.write(frame(Buffer.alloc(64 * 1024, 0x61), { length: 50 * 1024 * 1024 }));
      const r = await readFrames(h.socket, h.rest);
      expect(r.closeCode).toBe(1009);
      const rssAfter = (await stats()).rss;
      expect(rssAfter - rssBefore).toBeLessThan(40 * 1024 * 1024);
    });

    it('closes a complete frame over maxBytes with 1009, and records it once', async () => {
      const before = await refused('too_big');
      const h = await raw({ headers: await bearer() });
      h.socket.write(frame(`"${'a'.repeat(100 * 1024)}"`));
      const r = await readFrames(h.socket, h.rest);
      expect(r.closeCode).toBe(1009);
      // Node and Bun refuse it from the header (their own limit), Deno through the guard: the same
      // trace either way, counted once.
      await until(async () => (await refused('too_big')) === before + 1, 'too_big counted once');
    });

    it('closes a frame over maxBytes sent in the same write as the handshake with 1009, once', async () => {
      const before = await refused('too_big');
      const h = await raw({
        headers: await bearer(),
        trailing: frame(`"${'a'.repeat(100 * 1024)}"`),
      });
      expect(h.status).toBe(101);
      expect((await readFrames(h.socket, h.rest)).closeCode).toBe(1009);
      await until(async () => (await refused('too_big')) === before + 1, 'too_big counted once');
    });

    it('bans an address that keeps sending oversized frames (403 at its next handshake)', async () => {
      // too_big is 5 points and the ban starts at 20; scores decay (half-life 60 s), so four
      // frames land just under 20 and the fifth crosses it.
      const localAddress = '127.2.0.9';
      for (let i = 0; i < 5; i++) {
        const h = await raw({ headers: await bearer(), localAddress });
        expect(h.status).toBe(101);
        h.socket.write(frame(`"${'a'.repeat(100 * 1024)}"`));
        expect((await readFrames(h.socket, h.rest)).closeCode).toBe(1009);
        h.socket.destroy();
      }
      // The penalty is recorded after the close; the next handshake sees the ban.
      let status = 0;
      await until(async () => {
        const h = await raw({ headers: await bearer(), localAddress });
        status = h.status;
        h.socket.destroy();
        return status === 403;
      }, 'the address banned');
      expect(status).toBe(403);
      // Another address is not affected.
      const c = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await c.opened).toBeUndefined();
      c.ws.close();
      await c.done;
    });

    it.runIf(runtime === 'deno')(
      'Deno without the front (headersTimeoutMs: 0): a 16 MiB frame is buffered whole, then the guard closes it with 1009',
      async () => {
        console.info(
          '[runtimes:deno] gap with headersTimeoutMs: 0 (plain Deno.serve): no inbound frame limit, a message is buffered whole (up to 64 MiB)',
        );
        const rssBefore = (await stats()).rss;
        const h = await raw({ url: wsUrl(fixture.urls.bare), headers: await bearer() });
        h.socket.write(frame(Buffer.alloc(16 * 1024 * 1024, 0x61)));
        const r = await readFrames(h.socket, h.rest, 15_000);
        const rssAfter = (await stats()).rss;
        console.info(
          `[runtimes:deno] rss growth after a 16 MiB frame: ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB`,
        );
        expect(r.closeCode).toBe(1009);
      },
      30_000,
    );

    // Deno: Deno drops its own close frame here; the front delivers the code (see the bare case).
    it('answers a flood of small frames with error replies, then closes with 4029', async () => {
      const h = await raw({ headers: await bearer() });
      h.socket.write(Buffer.concat(Array.from({ length: 400 }, (_, i) => frame(`{"n":${i}}`))));
      const r = await readFrames(h.socket, h.rest);
      expect(r.closeCode).toBe(4029);
      expect(r.texts.some((t) => t.includes('TOO_MANY_REQUESTS'))).toBe(true);
    });

    it.runIf(runtime === 'deno')(
      'Deno without the front (headersTimeoutMs: 0): a flood is closed with 4029 by the guard, but the close frame may be lost',
      async () => {
        console.info(
          '[runtimes:deno] gap with headersTimeoutMs: 0 (plain Deno.serve): a client frame read after close() makes Deno drop the socket before its close frame is written; the client sees 1006',
        );
        const before = (await stats()).stats.bare as unknown as { closes: Record<string, number> };
        const h = await raw({ url: wsUrl(fixture.urls.bare), headers: await bearer() });
        h.socket.write(Buffer.concat(Array.from({ length: 400 }, (_, i) => frame(`{"n":${i}}`))));
        const r = await readFrames(h.socket, h.rest);
        expect(r.ended).toBe(true);
        expect([4029, undefined]).toContain(r.closeCode);
        expect(r.texts.some((t) => t.includes('TOO_MANY_REQUESTS'))).toBe(true);
        await until(async () => {
          const after = (await stats()).stats.bare as unknown as { closes: Record<string, number> };
          return (after.closes['4029'] ?? 0) > (before.closes['4029'] ?? 0);
        }, 'the guard recorded a 4029 close');
      },
    );

    it('closes a fragment flood, and records it once', async () => {
      const counted = async () => (await refused('protocol')) + (await refused('too_big'));
      const before = await counted();
      const h = await raw({ headers: await bearer() });
      const parts = [frame('a', { fin: false })];
      for (let i = 0; i < 70_000; i++) parts.push(frame('a', { opcode: 0, fin: false }));
      parts.push(frame('a', { opcode: 0, fin: true }));
      h.socket.write(Buffer.concat(parts));
      const r = await readFrames(h.socket, h.rest, 15_000);
      expect(r.ended).toBe(true);
      expect([1008, 1009]).toContain(r.closeCode);
      // Node: `ws`'s fragment cap or size limit; Bun: its size limit; Deno: the guard's size check.
      await until(async () => (await counted()) === before + 1, 'the flood counted once');
    });

    // Deno: its front refuses unmasked frames (Deno.serve alone accepts them: see the bare case).
    for (const [name, bytes] of [
      ['RSV bits set', frame('{}', { rsv: 4 })],
      ['an unmasked client frame', frame('{}', { mask: false })],
      ['invalid UTF-8 in a text frame', frame(Buffer.from([0x22, 0xff, 0xfe, 0x22]))],
    ] as const) {
      it(`closes the connection on a protocol violation: ${name}`, async () => {
        const h = await raw({ headers: await bearer() });
        h.socket.write(bytes);
        const r = await readFrames(h.socket, h.rest);
        expect(r.ended).toBe(true);
        expect([1002, 1007, 1008, 1005, undefined]).toContain(r.closeCode);
      });

      it(`records a protocol violation the runtime refused itself: ${name}`, async () => {
        const before = await refused('protocol');
        const h = await raw({ headers: await bearer() });
        h.socket.write(bytes);
        expect((await readFrames(h.socket, h.rest)).ended).toBe(true);
        await until(
          async () => (await refused('protocol')) === before + 1,
          'protocol violation counted once',
        );
      });
    }

    it('does not count a client dropped for silence (idle timeout, pings unanswered)', async () => {
      const h = await raw({ url: wsUrl(fixture.urls.idle), headers: await bearer() });
      expect(h.status).toBe(101);
      // A raw socket answers no ping: the runtime drops it after the 1 s idle timeout, as it would
      // a phone that went to sleep. That is not the client's violation.
      expect((await readFrames(h.socket, h.rest, 10_000)).ended).toBe(true);
      await until(
        async () => (await stats()).stats.idle!.connections === 0,
        'the idle socket released',
      );
      const idle = (await stats()).stats.idle!.messageRejections;
      expect(idle['protocol'] ?? 0).toBe(0);
      expect(idle['too_big'] ?? 0).toBe(0);
    }, 20_000);

    it('does not count a client that simply disconnects, or closes with 1009 itself', async () => {
      const before = { big: await refused('too_big'), protocol: await refused('protocol') };
      const a = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await a.opened).toBeUndefined();
      a.ws.terminate();
      const b = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await b.opened).toBeUndefined();
      // A client may refuse the server's message as too big: that is not the client's violation.
      b.ws.close(1009, 'too big for me');
      await b.done;
      await until(allClosed, 'both closed');
      expect(await refused('too_big')).toBe(before.big);
      expect(await refused('protocol')).toBe(before.protocol);
    });

    it.runIf(runtime === 'deno')(
      'Deno without the front (headersTimeoutMs: 0): an unmasked client frame is accepted, then checked by the guard',
      async () => {
        console.info(
          '[runtimes:deno] gap with headersTimeoutMs: 0 (plain Deno.serve): unmasked client frames are accepted',
        );
        const h = await raw({ url: wsUrl(fixture.urls.bare), headers: await bearer('frank') });
        h.socket.write(frame('{"unmasked":true}', { mask: false }));
        const r = await readFrames(h.socket, h.rest, 5000, 1);
        expect(JSON.parse(r.texts[0] ?? '{}')).toMatchObject({
          echo: { unmasked: true },
          sub: 'frank',
        });
        h.socket.destroy();
      },
    );

    it('closes with 1011 when the app hook throws or rejects', async () => {
      for (const type of ['throw', 'reject']) {
        const c = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
        expect(await c.opened).toBeUndefined();
        c.ws.send(JSON.stringify({ type }));
        expect(await c.done).toMatchObject({ code: 1011 });
      }
    });

    it('closes a client that never reads with 1013', async () => {
      const before = (await stats()).pushDone;
      const c = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await c.opened).toBeUndefined();
      const socket = (c.ws as unknown as { _socket: Socket })._socket;
      c.ws.send(JSON.stringify({ type: 'push' }));
      socket.pause();
      await until(async () => (await stats()).pushDone > before, 'the server stopped pushing');
      socket.resume();
      expect(await c.done).toMatchObject({ code: 1013 });
    });

    it('cuts a client that never reads its close frame after the close timeout (5 s)', async () => {
      const before = (await stats()).pushDone;
      const c = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await c.opened).toBeUndefined();
      const socket = (c.ws as unknown as { _socket: Socket })._socket;
      c.ws.send(JSON.stringify({ type: 'push' }));
      socket.pause(); // never resumed: the 1013 close frame stays behind unread data
      await until(async () => (await stats()).pushDone > before, 'the server stopped pushing');
      // Released by the cut (Deno's WebSocket has no terminate(): its front cuts the connection).
      await until(
        async () => (await stats()).stats.main!.connections === 0,
        'the connection cut and released while the client still holds it',
        8000, // closeTimeoutMs (5 s) and a margin
      );
      c.ws.terminate();
    }, 20_000);

    // ---- addresses and transport ------------------------------------------------------------

    it('ignores X-Forwarded-For from an untrusted peer', async () => {
      const localAddress = ip();
      const c = connect(wsUrl(fixture.urls.main), {
        localAddress,
        headers: { ...(await bearer()), 'x-forwarded-for': '203.0.113.9' },
      });
      expect(await c.opened).toBeUndefined();
      c.ws.send('{}');
      expect(await c.next()).toMatchObject({ ip: localAddress });
      c.ws.close();
      await c.done;
    });

    it('honours X-Forwarded-For from a trusted proxy', async () => {
      const c = connect(wsUrl(fixture.urls.main), {
        localAddress: TRUSTED_PROXY,
        headers: {
          ...(await bearer()),
          'x-forwarded-for': '198.51.100.7, 203.0.113.9',
          forwarded: 'for=192.0.2.1',
        },
      });
      expect(await c.opened).toBeUndefined();
      c.ws.send('{}');
      expect(await c.next()).toMatchObject({ ip: '203.0.113.9' });
      c.ws.close();
      await c.done;
    });

    it('production mode: refuses plain ws:// unless a trusted proxy reports TLS', async () => {
      const plain = await raw({ url: wsUrl(fixture.urls.strict), headers: await bearer() });
      expect(plain.status).toBe(403);
      const spoofed = await raw({
        url: wsUrl(fixture.urls.strict),
        headers: { ...(await bearer()), 'x-forwarded-proto': 'https' },
      });
      expect(spoofed.status).toBe(403);
      const proxied = await raw({
        url: wsUrl(fixture.urls.strict),
        localAddress: TRUSTED_PROXY,
        headers: { ...(await bearer()), 'x-forwarded-proto': 'https' },
      });
      expect(proxied.status).toBe(101);
    });

    it('serves wss:// with a self-signed certificate (production mode)', async () => {
      const c = connect(wsUrl(fixture.urls.tls), { headers: await bearer() });
      expect(await c.opened).toBeUndefined();
      c.ws.send('{"tls":true}');
      expect(await c.next()).toMatchObject({ echo: { tls: true }, sub: 'alice' });
      c.ws.close();
      await c.done;
    });

    // ---- compression ------------------------------------------------------------------------

    it('does not negotiate permessage-deflate by default', async () => {
      const c = connect(wsUrl(fixture.urls.main), {
        headers: await bearer(),
        perMessageDeflate: true,
      });
      expect(await c.opened).toBeUndefined();
      expect(c.ws.extensions).toBe('');
      c.ws.close();
      await c.done;
    });

    it.skipIf(skip(runtime, ['deno'], 'Deno does not negotiate permessage-deflate'))(
      'with compression on, bounds the inflated size: a small deflated frame over maxBytes closes 1009',
      async () => {
        const c = connect(wsUrl(fixture.urls.compressed), {
          headers: await bearer(),
          perMessageDeflate: true,
        });
        expect(await c.opened).toBeUndefined();
        expect(c.ws.extensions).toContain('permessage-deflate');
        c.ws.send('{"small":true}');
        expect(await c.next()).toMatchObject({ echo: { small: true } });
        c.ws.send(`"${'a'.repeat(2 * 1024 * 1024)}"`);
        expect(await c.done).toMatchObject({ code: 1009 });
      },
    );

    // ---- shutdown (last: the fixture is gone afterwards) ------------------------------------

    it('shuts down gracefully: peers closed with 1001, leases released, process exits 0', async () => {
      const c = connect(wsUrl(fixture.urls.main), { headers: await bearer() });
      expect(await c.opened).toBeUndefined();
      shutDown = true;
      const exited = new Promise<number | null>((resolve) => fixture.child.once('exit', resolve));
      fixture.child.kill('SIGTERM');
      expect(await c.done).toMatchObject({ code: 1001 });
      expect(await exited).toBe(0);
      const closed = JSON.parse(fixture.lines.find((l) => l.includes('"closed"')) ?? '{}') as {
        stats?: Record<string, { connections: number }>;
      };
      for (const g of Object.values(closed.stats ?? { missing: { connections: -1 } }))
        expect(g.connections).toBe(0);
    });
  });
}
