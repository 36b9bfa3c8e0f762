/**
 * The demo in a real browser: Debian's Chromium driven by playwright-core. The Origin header is
 * set by the browser here, not by the test, which is the point of testing hijacking this way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, wsLink } from '@trpc/client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DemoRouter } from '../../examples/demo/router.ts';
import { createGuardedWSClient } from '../../src/client.ts';
import { announceChromium, hasChromium, launchChromium } from './chromium.ts';

announceChromium('browser tests (demo)');

async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface Demo {
  url: string;
  proc: ChildProcess;
  output: string[];
}

type Runtime = 'node' | 'bun' | 'deno';
const COMMANDS: Record<Runtime, [string, string[]]> = {
  node: [process.execPath, ['--import', 'tsx', 'examples/demo/server.node.ts']],
  bun: ['node_modules/.bin/bun', ['examples/demo/server.bun.ts']],
  deno: ['node_modules/.bin/deno', ['run', '-A', 'examples/demo/server.deno.ts']],
};

async function startDemo(env: Record<string, string>, runtime: Runtime = 'node'): Promise<Demo> {
  const port = await freePort();
  const output: string[] = [];
  const [command, args] = COMMANDS[runtime];
  const proc = spawn(command, args, {
    // The demo's own default store (memory): CI exports REDIS_URL for the Redis suites, and a
    // shared store would carry one test's rate limits and penalties into the next.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d) => output.push(String(d)));
  proc.stderr?.on('data', (d) => output.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (output.join('').includes(' on http')) return { url, proc, output };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`demo did not start:\n${output.join('')}`);
}

/** Wait for the page's socket; on failure, say what the page and the server said. */
async function waitConnected(page: Page, demo: Demo): Promise<void> {
  try {
    await page.waitForSelector('[data-testid="conn"]:text("connected")', { timeout: 30_000 });
  } catch (error) {
    const banner = await page.textContent('[data-testid="banner"]').catch(() => null);
    const conn = await page.textContent('[data-testid="conn"]').catch(() => null);
    throw new Error(
      `page did not connect: conn=${JSON.stringify(conn)} banner=${JSON.stringify(banner)}\nserver output:\n${demo.output.join('').slice(-2000)}`,
      { cause: error },
    );
  }
}

interface Session {
  token: string;
  refresh: string;
}

async function loginSession(url: string, username: string): Promise<Session> {
  const res = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ username, password: username }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Session;
}

async function login(url: string, username: string): Promise<string> {
  return (await loginSession(url, username)).token;
}

/**
 * A Node-side user sending into a room through wsguard/client: fresh token on every connect,
 * refreshed in band before it expires, like the page.
 */
async function nodeClient(url: string, username: string) {
  const session = await loginSession(url, username);
  const refreshToken = async (): Promise<string> => {
    const res = await fetch(`${url}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ refresh: session.refresh }),
    });
    Object.assign(session, (await res.json()) as Session);
    return session.token;
  };
  let trpc!: ReturnType<typeof createTRPCClient<DemoRouter>>;
  const ws = createGuardedWSClient({
    url: `${url.replace('http', 'ws')}/ws`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    getToken: () => session.token,
    refreshToken,
    refreshInBand: (token) => trpc.session.refresh.mutate({ token }),
    refreshBeforeMs: 1500,
  });
  trpc = createTRPCClient<DemoRouter>({ links: [wsLink({ client: ws.client })] });
  return { ws, trpc };
}

describe.skipIf(!hasChromium)('the demo in Chromium', () => {
  let browser: Browser;
  const demos: Demo[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const d of demos) d.proc.kill('SIGKILL');
    for (const s of servers) s.close();
  });

  it.each(['node', 'bun', 'deno'] as const)(
    'on %s: logs in, joins a room, sends and receives over the guarded socket',
    async (runtime) => {
      const demo = await startDemo({}, runtime);
      demos.push(demo);
      const page = await browser.newPage();
      await page.goto(demo.url);
      await page.click('#login-form button');
      await waitConnected(page, demo);
      await page.fill('#send-form input[name="text"]', 'hello from the browser');
      await page.click('#send-form button');
      await page.waitForSelector('#messages li:has-text("hello from the browser")', {
        timeout: 10_000,
      });
      // A message from another user arrives through the subscription.
      const bob = await nodeClient(demo.url, 'bob');
      await bob.trpc.chat.send.mutate({ room: 'lobby', text: 'hi alice, from bob' });
      await page.waitForSelector('#messages li:has-text("hi alice, from bob")', {
        timeout: 10_000,
      });
      // Untrusted text is rendered as text, never as markup.
      await bob.trpc.chat.send.mutate({
        room: 'lobby',
        text: '<img src=x onerror="window.pwned=1">',
      });
      await page.waitForSelector('#messages li:has-text("<img src=x")', { timeout: 10_000 });
      expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.locator('#messages img').count()).toBe(0);
      await bob.ws.close();
      await page.close();
    },
    60_000,
  );

  it('refuses cross-site WebSocket hijacking from a page on another origin', async () => {
    const demo = await startDemo({});
    demos.push(demo);
    // The victim is logged in on the app's origin; the attacker's page opens in the same browser.
    const context = await browser.newContext();
    const victim = await context.newPage();
    await victim.goto(demo.url);
    await victim.click('#login-form button');
    await waitConnected(victim, demo);
    // The attacker's page, served from another origin (another port on loopback).
    const attackerPort = await freePort();
    const target = demo.url;
    const attackerPage = `<!doctype html><meta charset="utf-8"><script>
      window.result = new Promise((resolve) => {
        const out = { wsOpened: false, wsMessages: 0, wsClose: null, ticket: null };
        const ws = new WebSocket(${JSON.stringify(`${target.replace('http', 'ws')}/ws`)});
        ws.onopen = () => { out.wsOpened = true; ws.send('{"id":1,"method":"query","params":{"path":"chat.onMessage","input":{"room":"lobby"}}}'); };
        ws.onmessage = () => { out.wsMessages++; };
        ws.onclose = (e) => { out.wsClose = e.code; };
        fetch(${JSON.stringify(`${target}/ws/ticket`)}, { method: 'POST', credentials: 'include' })
          .then((r) => r.text().then((t) => { out.ticket = 'read: ' + r.status + ' ' + t; }))
          .catch((e) => { out.ticket = 'blocked: ' + e.name; })
          .finally(() => setTimeout(() => resolve(out), 1500));
      });
    </script>`;
    const attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(attackerPage);
    });
    servers.push(attacker);
    await new Promise<void>((r) => attacker.listen(attackerPort, '127.0.0.1', r));
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${attackerPort}/`);
    const result = (await page.evaluate(
      () => (window as unknown as { result: Promise<unknown> }).result,
    )) as {
      wsOpened: boolean;
      wsMessages: number;
      wsClose: number | null;
      ticket: string | null;
    };
    expect(result.wsOpened).toBe(false);
    expect(result.wsMessages).toBe(0);
    expect(result.ticket).toMatch(/^blocked: TypeError$/);
    // The server refused the socket at the upgrade for its origin, and issued no ticket.
    const admin = await login(demo.url, 'admin');
    const stats = (await (
      await fetch(`${demo.url}/ws/stats`, { headers: { authorization: `Bearer ${admin}` } })
    ).json()) as {
      rejections: Record<string, number>;
    };
    expect(stats.rejections['origin']).toBeGreaterThanOrEqual(1);
    await context.close();
  }, 60_000);

  it('refreshes an expiring token during a live subscription and loses or repeats no message', async () => {
    const demo = await startDemo({ WSGUARD_TOKEN_TTL: '4' });
    demos.push(demo);
    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.click('#login-form button');
    await waitConnected(page, demo);
    const bob = await nodeClient(demo.url, 'bob');
    // Bob's token lives 4 s too; his client refreshes it in band, like the page.
    const sent: string[] = [];
    const until = Date.now() + 10_000; // two and a half lifetimes of the page's token
    for (let i = 0; Date.now() < until && i < 80; i++) {
      const text = `m${i}`;
      await bob.trpc.chat.send.mutate({ room: 'lobby', text });
      sent.push(text);
      await new Promise((r) => setTimeout(r, 250)); // under chat.send's 5/s limit
    }
    expect(sent.length).toBeGreaterThan(30);
    await page.waitForFunction(
      (last) =>
        [...document.querySelectorAll('#messages li')].some((li) => li.textContent?.endsWith(last)),
      sent.at(-1) ?? '',
      { timeout: 15_000 },
    );
    const shown = await page.$$eval('#messages li', (lis) =>
      lis.map((li) => li.lastChild?.textContent ?? ''),
    );
    expect(shown.filter((t) => /^m\d+$/.test(t))).toEqual(sent);
    // The page outlived its first token: it refreshed (banner) and is still connected.
    expect(await page.textContent('[data-testid="conn"]')).toBe('connected');
    await bob.ws.close();
    await page.close();
  }, 60_000);

  it('shows the admin panel with the guard’s decisions (screenshot kept as an artifact)', async () => {
    const demo = await startDemo({});
    demos.push(demo);
    // Some decisions to show: a foreign origin and a bad token.
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${demo.url.replace('http', 'ws')}/ws`, {
        origin: 'https://evil.example',
      });
      ws.on('error', () => resolve());
      ws.on('close', () => resolve());
    });
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${demo.url.replace('http', 'ws')}/ws?token=forged`, {
        origin: demo.url,
      });
      ws.on('error', () => resolve());
      ws.on('close', () => resolve());
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(demo.url);
    await page.fill('#login-form input[name="username"]', 'admin');
    await page.fill('#login-form input[name="password"]', 'admin');
    await page.click('#login-form button');
    await waitConnected(page, demo);
    await page.waitForSelector('#admin:not([hidden])');
    await page.fill('#send-form input[name="text"]', 'the admin is watching');
    await page.click('#send-form button');
    await page.waitForSelector('#events li', { timeout: 10_000 });
    await page.waitForFunction(
      () => document.querySelector('#stats dd[data-stat="connections"]')?.textContent === '1',
      undefined,
      {
        timeout: 10_000,
      },
    );
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-admin.png', fullPage: true });
    expect(existsSync('test-results/demo-admin.png')).toBe(true);
    const rejections = await page.textContent('#stats dd[data-stat="rejections"]');
    expect(rejections).toContain('origin');
    await page.close();
  }, 60_000);
});
