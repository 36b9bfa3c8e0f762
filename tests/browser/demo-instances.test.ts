/**
 * The demo as a deployment of several instances: real demo processes (`examples/demo/server.node.ts`)
 * on one Redis, with the same secret and their own ports. The chat must span them: a message sent
 * on A reaches a subscriber on B, in order; a subscriber whose instance died resumes on another
 * one with its last event id and gets exactly what it missed; a client's malformed last event id
 * is a BAD_REQUEST, not a crash; and in Chromium, a message typed on A's page appears on B's.
 * Each run has its own key prefixes (store and feed), so runs never see each other's rooms, and
 * deletes its keys at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Feed } from '../../examples/demo/feed.ts';
import {
  connectRedis,
  deletePrefix,
  eventually,
  pingRedis,
  REDIS_URL,
  redisServerSkipReason,
  redisSkipReason,
  uniquePrefix,
} from '../store/redis-env.ts';
import { announceChromium, hasChromium, launchChromium } from './chromium.ts';
import {
  chatClient,
  follow,
  loginToken,
  type Received,
  sendAll,
  waitFor,
} from './fixtures/chat-client.ts';
import { type DemoProcess, killDemo, startDemoProcess } from './fixtures/demo-process.ts';

const skip = await redisSkipReason();
if (skip !== undefined) console.warn(`demo instances suite did not run: ${skip}`);
const skipPrivate = redisServerSkipReason();
if (skipPrivate !== undefined) console.warn(`demo Redis outage test did not run: ${skipPrivate}`);
announceChromium('browser tests (demo instances)');

const prefix = uniquePrefix('demo-instances');
/** One deployment: one Redis, one secret, its own keys. */
const deployment: Record<string, string> = {
  REDIS_URL,
  WSGUARD_SECRET: `demo-instances-${crypto.randomUUID()}-${crypto.randomUUID()}`,
  WSGUARD_FEED_PREFIX: `${prefix}{feed}:`,
  WSGUARD_STORE_PREFIX: `${prefix}store:`,
};
/**
 * One login per user for the whole file: a token is valid on every instance of the deployment,
 * and the demo allows 10 logins a minute per address across the deployment (shared store), which
 * this file would pass logging in for every client.
 */
const tokens = new Map<string, Promise<string>>();
const tokenFor = (url: string, user: string): Promise<string> => {
  let token = tokens.get(user);
  if (token === undefined) {
    token = loginToken(url, user);
    tokens.set(user, token);
  }
  return token;
};
const room = (): string => `r-${crypto.randomUUID().slice(0, 8)}`;
const texts = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `m${from + i}`);
const textsOf = (received: readonly Received[]): string[] => received.map((r) => r.text);

/** Take `n` events from a follower, within 5 s. */
async function take<T>(events: AsyncGenerator<[string, T]>, n: number): Promise<[string, T][]> {
  const out: [string, T][] = [];
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000));
  while (out.length < n) {
    const next = await Promise.race([events.next(), timeout]);
    if (next === 'timeout' || next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('the in-memory feed (one instance, no REDIS_URL)', () => {
  it('resumes exactly from its own ids, and from the oldest held on an id it did not issue', async () => {
    const feed = new Feed<string>(100);
    const ids: string[] = [];
    for (const t of texts(0, 6)) ids.push(await feed.publish('room', t));
    const stop = new AbortController();
    // null: everything held; its own id: the events after it.
    expect((await take(feed.follow('room', null, stop.signal), 6)).map(([, t]) => t)).toEqual(
      texts(0, 6),
    );
    expect((await take(feed.follow('room', ids[3]!, stop.signal), 2)).map(([, t]) => t)).toEqual(
      texts(4, 6),
    );
    // Another process's id (another instance, or this one before a restart) is not ours: read as
    // a number it would skip this process's first events; it starts from the oldest held.
    const other = new Feed<string>(100);
    let foreign = '';
    for (const t of texts(0, 4)) foreign = await other.publish('room', t);
    expect((await take(feed.follow('room', foreign, stop.signal), 6)).map(([, t]) => t)).toEqual(
      texts(0, 6),
    );
    // Live events follow the held ones, and close() ends the followers.
    const live = feed.follow('room', ids[5]!, stop.signal);
    const next = live.next();
    await feed.publish('room', 'm6');
    expect((await next).value?.[1]).toBe('m6');
    await feed.close();
    expect(await take(live, 1)).toEqual([]);
    stop.abort();
  });
});

describe.skipIf(skip !== undefined)(
  `two demo instances on one Redis${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    let redis: Redis;
    let A: DemoProcess;
    let B: DemoProcess;
    const started: DemoProcess[] = [];
    const closers: (() => Promise<void> | void)[] = [];

    beforeAll(async () => {
      redis = await connectRedis();
      [A, B] = await Promise.all([startDemoProcess(deployment), startDemoProcess(deployment)]);
      started.push(A, B);
    }, 60_000);

    afterAll(async () => {
      for (const close of closers) await close();
      await Promise.all(started.map((d) => killDemo(d)));
      if (redis) {
        await deletePrefix(redis, prefix);
        redis.disconnect();
      }
    }, 30_000);

    it('15 messages sent on A all reach a subscriber on B, in order', async () => {
      const r = room();
      const sender = chatClient(A.ws, await tokenFor(A.url, 'alice'));
      const reader = chatClient(B.ws, await tokenFor(B.url, 'bob'));
      closers.push(
        () => sender.ws.close(),
        () => reader.ws.close(),
      );
      const onB = await follow(reader, r);
      expect(onB.error()).toBeUndefined();
      const sent = texts(0, 15);
      await sendAll(sender, r, sent);
      await waitFor(() => onB.received.length >= sent.length, 10_000);
      expect(textsOf(onB.received)).toEqual(sent);
      expect(new Set(onB.received.map((e) => e.id)).size).toBe(sent.length);
      onB.unsubscribe();
    }, 60_000);

    it('a send retried with its message id appears once, whichever instance takes the retry', async () => {
      const r = room();
      const token = await tokenFor(A.url, 'alice');
      const onA = chatClient(A.ws, token);
      const onB = chatClient(B.ws, token);
      const reader = chatClient(B.ws, await tokenFor(B.url, 'bob'));
      closers.push(
        () => onA.ws.close(),
        () => onB.ws.close(),
        () => reader.ws.close(),
      );
      const following = await follow(reader, r);
      const id = crypto.randomUUID();
      // The page's retry after a failure it could not judge (timed out, connection lost).
      const first = await onA.trpc.chat.send.mutate({ room: r, text: 'once', id });
      const retry = await onB.trpc.chat.send.mutate({ room: r, text: 'once', id });
      // Another user's message with the same id is theirs, not a duplicate of alice's.
      const other = chatClient(A.ws, await tokenFor(A.url, 'bob'));
      closers.push(() => other.ws.close());
      await other.trpc.chat.send.mutate({ room: r, text: 'bob', id });
      await onA.trpc.chat.send.mutate({ room: r, text: 'after' });
      await waitFor(() => following.received.length >= 3, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(retry.id).toBe(first.id);
      expect(textsOf(following.received)).toEqual(['once', 'bob', 'after']);
      following.unsubscribe();
    }, 60_000);

    it('a subscriber whose instance was killed resumes on the other one with exactly what it missed', async () => {
      // Fresh instances: the one to kill, and the one to resume on, as after a crash in production.
      const [survivor, victim] = await Promise.all([
        startDemoProcess(deployment),
        startDemoProcess(deployment),
      ]);
      started.push(survivor, victim);
      const r = room();
      const token = await tokenFor(victim.url, 'bob');
      const senderOnVictim = chatClient(victim.ws, await tokenFor(victim.url, 'alice'));
      const readerOnVictim = chatClient(victim.ws, token);
      closers.push(
        () => senderOnVictim.ws.close(),
        () => readerOnVictim.ws.close(),
      );
      const before = await follow(readerOnVictim, r);
      const first = texts(0, 10);
      await sendAll(senderOnVictim, r, first);
      await waitFor(() => before.received.length >= first.length, 10_000);
      expect(textsOf(before.received)).toEqual(first);
      const lastEventId = before.received.at(-1)!.id;

      await killDemo(victim);
      expect(victim.proc.signalCode).toBe('SIGKILL');
      await readerOnVictim.ws.close();
      await senderOnVictim.ws.close();

      // The chat goes on on the survivor while the reader is away.
      const senderOnSurvivor = chatClient(survivor.ws, await tokenFor(survivor.url, 'alice'));
      closers.push(() => senderOnSurvivor.ws.close());
      const missed = texts(10, 30);
      await sendAll(senderOnSurvivor, r, missed);

      const readerOnSurvivor = chatClient(survivor.ws, token);
      closers.push(() => readerOnSurvivor.ws.close());
      const after = await follow(readerOnSurvivor, r, lastEventId);
      expect(after.error()).toBeUndefined();
      await waitFor(() => after.received.length >= missed.length, 10_000);
      // A duplicate would arrive right behind the last one: give it the time to.
      await new Promise((r) => setTimeout(r, 500));
      expect(textsOf(after.received)).toEqual(missed);
      const all = [...before.received, ...after.received];
      expect(textsOf(all)).toEqual(texts(0, 30));
      expect(new Set(all.map((e) => e.id)).size).toBe(30);
      after.unsubscribe();
    }, 90_000);

    it('refuses a malformed last event id with BAD_REQUEST, and the instance stays up', async () => {
      const r = room();
      const sender = chatClient(A.ws, await tokenFor(A.url, 'alice'));
      closers.push(() => sender.ws.close());
      await sendAll(sender, r, ['held']);
      for (const bad of ['garbage', '1-x', '01-0', `${'9'.repeat(30)}-0`]) {
        const reader = chatClient(B.ws, await tokenFor(B.url, 'bob'));
        closers.push(() => reader.ws.close());
        const refused = await follow(reader, r, bad);
        expect(
          (refused.error() as { data?: { code?: string } } | undefined)?.data?.code,
          `lastEventId ${JSON.stringify(bad)}`,
        ).toBe('BAD_REQUEST');
        expect(refused.received).toEqual([]);
        await reader.ws.close();
      }
      const health = await fetch(`${B.url}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect(B.proc.exitCode).toBeNull();
    }, 60_000);

    describe.skipIf(!hasChromium)('in Chromium', () => {
      let browser: Browser;

      beforeAll(async () => {
        browser = await launchChromium();
      }, 60_000);

      afterAll(async () => {
        await browser?.close();
      });

      /** The page of `demo`, logged in as `user`, in `roomName`, connected. */
      async function openPage(demo: DemoProcess, user: string, roomName: string): Promise<Page> {
        const page = await browser.newPage();
        await page.goto(demo.url);
        await page.fill('#login-form input[name="username"]', user);
        await page.fill('#login-form input[name="password"]', user);
        await page.click('#login-form button');
        try {
          await page.waitForSelector('[data-testid="conn"]:text("connected")', {
            timeout: 30_000,
          });
        } catch (error) {
          const banner = await page.textContent('[data-testid="banner"]').catch(() => null);
          throw new Error(
            `page on ${demo.url} did not connect: banner=${JSON.stringify(banner)}\n${demo.output.join('').slice(-2000)}`,
            { cause: error },
          );
        }
        await page.fill('#join-form input[name="room"]', roomName);
        await page.click('#join-form button');
        await page.waitForSelector(`[data-testid="room-name"]:text("${roomName}")`, {
          timeout: 10_000,
        });
        return page;
      }

      async function type(page: Page, text: string): Promise<void> {
        await page.fill('#send-form input[name="text"]', text);
        await page.click('#send-form button');
      }

      it('a message typed on A’s page appears on B’s page, and back', async () => {
        const r = room();
        const pageA = await openPage(A, 'alice', r);
        const pageB = await openPage(B, 'bob', r);
        await type(pageA, 'hello B, from the page on A');
        await pageA.waitForSelector('#messages li:has-text("hello B, from the page on A")', {
          timeout: 10_000,
        });
        await pageB.waitForSelector('#messages li:has-text("hello B, from the page on A")', {
          timeout: 10_000,
        });
        await type(pageB, 'hello A, from the page on B');
        await pageA.waitForSelector('#messages li:has-text("hello A, from the page on B")', {
          timeout: 10_000,
        });
        const shown = async (page: Page) =>
          page.$$eval('#messages li', (lis) => lis.map((li) => li.lastChild?.textContent ?? ''));
        const both = ['hello B, from the page on A', 'hello A, from the page on B'];
        await pageB.waitForSelector('#messages li:has-text("hello A, from the page on B")', {
          timeout: 10_000,
        });
        expect(await shown(pageA)).toEqual(both);
        expect(await shown(pageB)).toEqual(both);
        await pageA.close();
        await pageB.close();
      }, 90_000);
    });
  },
);

/** A free loopback port from 6390 up (bound, then released), for a private redis-server. */
async function freeRedisPort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 6390 + Math.floor(Math.random() * 2000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port from 6390');
}

// The shared Redis is never stopped: this one is the test's own, killed mid-run.
describe.skipIf(skipPrivate !== undefined)(
  `the demo's chat while its Redis is down${skipPrivate ? ` (did not run: ${skipPrivate})` : ''}`,
  () => {
    let redis: ChildProcess | undefined;
    let demo: DemoProcess | undefined;
    const closers: (() => Promise<void>)[] = [];

    afterAll(async () => {
      for (const close of closers) await close();
      await killDemo(demo);
      if (redis && redis.exitCode === null && redis.signalCode === null) redis.kill('SIGKILL');
    }, 30_000);

    it('a message sent while Redis is down is refused with SERVICE_UNAVAILABLE; the instance stays up', async () => {
      const port = await freeRedisPort();
      const url = `redis://127.0.0.1:${port}`;
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { cwd: tmpdir(), stdio: 'ignore' },
      );
      child.on('error', () => {});
      redis = child;
      await eventually(async () => {
        if (!(await pingRedis(url, 200))) throw new Error('private redis-server not up yet');
      }, 50);
      demo = await startDemoProcess({ ...deployment, REDIS_URL: url });
      const client = chatClient(demo.ws, await tokenFor(demo.url, 'alice'));
      closers.push(() => client.ws.close());
      const r = room();
      await sendAll(client, r, ['before']);

      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const refused = await client.trpc.chat.send.mutate({ room: r, text: 'during' }).then(
        () => undefined,
        (error: { data?: { code?: string } }) => error,
      );
      expect(refused?.data?.code).toBe('SERVICE_UNAVAILABLE');
      const health = await fetch(`${demo.url}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect(demo.proc.exitCode).toBeNull();
    }, 60_000);
  },
);
