/**
 * The demo's admin view in real Chromium, against a real demo process: an attack from a second
 * address shows in the refusal table within a second; its ban shows with an Unban button that
 * lets the address in again; Kick ends a user's socket and the user's page stays stopped (4003);
 * the attack panel's attacks are refused with their codes; the room field's pattern is accepted
 * by Chromium and a bad room name reads as a sentence. Screenshots are kept in test-results/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceChromium, hasChromium, launchChromium } from './chromium.ts';
import { attempt, forgedToken } from './fixtures/admin-attacker.ts';
import { chatClient, loginToken } from './fixtures/chat-client.ts';
import { type DemoProcess, killDemo, startDemoProcess } from './fixtures/demo-process.ts';

announceChromium('browser tests (demo admin view)');

/** The second loopback address the attacker uses; the browser is on 127.0.0.1. */
const ATTACKER = '127.0.0.2';

interface LoggedIn {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and warnings, and uncaught page errors. */
  readonly console: string[];
}

async function openAs(browser: Browser, demo: DemoProcess, user: string): Promise<LoggedIn> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.push(m.text());
  });
  page.on('pageerror', (e) => console.push(String(e)));
  await page.goto(demo.url);
  await page.fill('#login-form input[name="username"]', user);
  await page.fill('#login-form input[name="password"]', user);
  await page.click('#login-form button');
  try {
    await page.waitForSelector('[data-testid="conn"]:text("connected")', { timeout: 30_000 });
  } catch (error) {
    const banner = await page.textContent('[data-testid="banner"]').catch(() => null);
    throw new Error(
      `${user}'s page did not connect: banner=${JSON.stringify(banner)}\n${demo.output.join('').slice(-2000)}`,
      { cause: error },
    );
  }
  if (user === 'admin') await page.waitForSelector('#admin:not([hidden]) #refusals tbody tr');
  return { context, page, console };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: `test-results/${name}.png`, fullPage: true });
  expect(existsSync(`test-results/${name}.png`)).toBe(true);
}

describe.skipIf(!hasChromium)('the demo’s admin view in Chromium', () => {
  let browser: Browser;
  const demos: DemoProcess[] = [];
  const contexts: BrowserContext[] = [];
  const start = async (): Promise<DemoProcess> => {
    // The demo's own memory store: a shared Redis would carry bans from one test to the next.
    const demo = await startDemoProcess({ REDIS_URL: '' });
    demos.push(demo);
    return demo;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    for (const d of demos) await killDemo(d);
  });

  it('shows an attack from a second address within a second, bans it, and Unban lets it in', async () => {
    const demo = await start();
    const admin = await openAs(browser, demo, 'admin');
    contexts.push(admin.context);
    const { page } = admin;
    const forged = `${demo.ws}?token=${forgedToken()}`;
    const first = await attempt(forged, { localAddress: ATTACKER, origin: demo.url });
    const refused = Date.now();
    expect(first.code).toBe(4001);
    const row = `#refusals tr[data-ip="${ATTACKER}"][data-reason="credentials_invalid"]`;
    await page.waitForSelector(row, { timeout: 1000 });
    expect(Date.now() - refused).toBeLessThan(1000);
    expect(await page.getAttribute(row, 'data-kind')).toBe('handshake');
    // The address is listed as close to a ban, with the 4 points its forged token cost.
    const score = `#scores tr[data-subject="ip"][data-id="${ATTACKER}"]`;
    await page.waitForSelector(score, { timeout: 2000 });
    expect(Number(await page.getAttribute(score, 'data-score'))).toBeCloseTo(4, 0);
    // More forged tokens, 4 points each, reach the threshold (20; scores decay, so the sixth
    // crosses it, not the fifth): the address is banned, and the ban shows in the ban book.
    const ban = `#bans tr[data-subject="ip"][data-id="${ATTACKER}"]`;
    let tries = 1;
    while (tries < 8 && (await page.locator(ban).count()) === 0) {
      const end = await attempt(forged, { localAddress: ATTACKER, origin: demo.url });
      tries++;
      // 4001 until the ban, 4030 once it holds.
      expect([4001, 4030]).toContain(end.code);
      await page.waitForSelector(ban, { timeout: 1000 }).catch(() => {});
    }
    expect(tries).toBeLessThanOrEqual(6);
    await page.waitForSelector(ban, { timeout: 1000 });
    await page.waitForSelector(`${row}[data-count="${tries}"]`, { timeout: 1000 });
    // Banned at the threshold (20): the score shown is near it (it halves every minute, so a
    // little under 20 by the time the page redraws).
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel)?.getAttribute('data-score')) >= 15,
      score,
      { timeout: 3000 },
    );
    // Banned, even an honest token is refused from that address; the browser's stays in.
    const alice = await loginToken(demo.url, 'alice');
    const honest = `${demo.ws}?token=${encodeURIComponent(alice)}`;
    const banned = await attempt(honest, { localAddress: ATTACKER, origin: demo.url });
    expect(banned.code).toBe(4030);
    expect(await page.textContent('[data-testid="conn"]')).toBe('connected');
    await page.waitForSelector('#traffic polyline[data-series="handshakesRefused"]');
    expect(
      Number(
        await page.getAttribute('#traffic polyline[data-series="handshakesRefused"]', 'data-total'),
      ),
    ).toBeGreaterThanOrEqual(6);
    await screenshot(page, 'demo-admin-view');
    await page.click(`${ban} button`);
    await page.waitForSelector(ban, { state: 'detached', timeout: 2000 });
    const back = await attempt(honest, { localAddress: ATTACKER, origin: demo.url, holdMs: 1500 });
    expect(back.opened).toBe(true);
    expect(back.code).toBe(1000);
  }, 90_000);

  it('Kick ends the user’s socket and the user’s page stays stopped (4003)', async () => {
    const demo = await start();
    const admin = await openAs(browser, demo, 'admin');
    const alice = await openAs(browser, demo, 'alice');
    contexts.push(admin.context, alice.context);
    const kick = '#connections tr[data-user="alice"] button';
    await admin.page.waitForSelector(kick, { timeout: 5000 });
    await admin.page.click(kick);
    await alice.page.waitForSelector('[data-testid="conn"]:text("stopped")', { timeout: 5000 });
    expect(await alice.page.textContent('[data-testid="banner"]')).toContain('Access refused');
    await admin.page.waitForSelector('#connections tr[data-user="alice"]', {
      state: 'detached',
      timeout: 2000,
    });
    // It stays stopped: no reconnect in the next three seconds (the client obeys 4003).
    await new Promise((r) => setTimeout(r, 3000));
    expect(await alice.page.textContent('[data-testid="conn"]')).toBe('stopped');
    expect(await admin.page.locator('#connections tr[data-user="alice"]').count()).toBe(0);
    expect(await admin.page.locator('#connections tr[data-user="admin"]').count()).toBe(1);
    await screenshot(admin.page, 'demo-admin-kick');
  }, 90_000);

  it('runs the attack panel: each attack is refused with its code and shows in the table', async () => {
    const demo = await start();
    const admin = await openAs(browser, demo, 'admin');
    contexts.push(admin.context);
    const { page } = admin;
    const expected = [
      ['forged', 4001, 'credentials_invalid'],
      ['replay', 4001, 'credentials_invalid'],
      ['oversized', 1009, 'too_big'],
      ['flood', 4029, 'message_rate'],
    ] as const;
    for (const [attack, code, reason] of expected) {
      await page.click(`#attacks button[data-attack="${attack}"]`);
      await page.waitForSelector(`#attack-log li[data-attack="${attack}"]`, { timeout: 15_000 });
      const got = await page.getAttribute(`#attack-log li[data-attack="${attack}"]`, 'data-code');
      // The flood runs last, at 13 points: its 4th rate refusal crosses the ban threshold (20)
      // while its 10th closes it with 4029. The ban is a store step behind, so on a loaded
      // machine (frames in several reads) it can land first and close with 4030: both are this
      // defence's answer (CI saw 4030 once). Every other attack has one answer.
      if (attack === 'flood') expect(['4029', '4030']).toContain(got);
      else expect(got).toBe(String(code));
      if (attack !== 'flood')
        await page.waitForSelector(`#refusals tr[data-reason="${reason}"]`, { timeout: 1000 });
    }
    // A refused frame is listed under the origin its socket was opened from.
    expect(await page.getAttribute('#refusals tr[data-reason="too_big"]', 'data-origin')).toBe(
      demo.url,
    );
    // 4 + 4 + 5 + 10 × 2 points from this browser's address: it is banned, and so is this page.
    await page.waitForSelector('[data-testid="conn"]:text("banned")', { timeout: 5000 });
    await page.click('#unban-me');
    await page.waitForSelector('[data-testid="conn"]:text("connected")', { timeout: 10_000 });
    await page.waitForSelector('#refusals tr[data-reason="message_rate"]', { timeout: 2000 });
    await page.waitForSelector('#bans tr[data-subject="ip"]', { state: 'detached', timeout: 2000 });
    await screenshot(page, 'demo-admin-attacks');
  }, 90_000);

  it('accepts the room pattern in Chromium and says what a bad room name breaks', async () => {
    const demo = await start();
    const alice = await openAs(browser, demo, 'alice');
    contexts.push(alice.context);
    const { page } = alice;
    const room = '#join-form input[name="room"]';
    await page.fill(room, 'Bad Room!');
    const mismatch = await page.$eval(
      room,
      (i) => (i as HTMLInputElement).validity.patternMismatch,
    );
    // Chromium compiles the pattern with the `v` flag when validity is read, and says so on the
    // console when it cannot; such a pattern then matches everything (no mismatch).
    await page.waitForTimeout(200);
    expect(alice.console.filter((m) => /pattern|regular expression/i.test(m))).toEqual([]);
    expect(mismatch).toBe(true);
    await page.click('#join-form button');
    const sentence = 'Room: use 1 to 32 lowercase letters, digits or dashes.';
    await page.waitForSelector(`[data-testid="banner"]:text("${sentence}")`, { timeout: 2000 });
    // The server's refusal reads the same: the browser's check taken away, the name is sent.
    await page.$eval(room, (i) => i.removeAttribute('pattern'));
    await page.click('#join-form button');
    await page.waitForSelector('[data-testid="banner"]:text("Subscription ended")', {
      timeout: 5000,
    });
    const banner = (await page.textContent('[data-testid="banner"]')) ?? '';
    expect(banner).toBe(`Subscription ended: ${sentence}`);
    expect(banner).not.toMatch(/[[{"]/);
  }, 60_000);
});

describe('the admin view’s procedures and route refuse non-admins', () => {
  let demo: DemoProcess | undefined;
  afterAll(() => killDemo(demo));

  it('answers alice with FORBIDDEN, and /admin/unban-me with 401, 403 or 405', async () => {
    demo = await startDemoProcess({ REDIS_URL: '' });
    const alice = await loginToken(demo.url, 'alice');
    const client = chatClient(demo.ws, alice);
    try {
      await expect(client.trpc.admin.overview.query()).rejects.toMatchObject({
        data: { code: 'FORBIDDEN' },
      });
      await expect(
        client.trpc.admin.unban.mutate({ subject: 'ip', id: '127.0.0.1' }),
      ).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
    } finally {
      await client.ws.close();
    }
    const unbanMe = (headers: Record<string, string>, method = 'POST') =>
      fetch(`${demo!.url}/admin/unban-me`, {
        method,
        headers,
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.status);
    expect(await unbanMe({ origin: demo.url })).toBe(401);
    expect(await unbanMe({ origin: demo.url, authorization: 'Bearer forged' })).toBe(401);
    expect(await unbanMe({ origin: demo.url, authorization: `Bearer ${alice}` })).toBe(403);
    const admin = await loginToken(demo.url, 'admin');
    expect(
      await unbanMe({ origin: 'https://evil.example', authorization: `Bearer ${admin}` }),
    ).toBe(403);
    expect(await unbanMe({ authorization: `Bearer ${admin}` }, 'GET')).toBe(405);
    expect(await unbanMe({ origin: demo.url, authorization: `Bearer ${admin}` })).toBe(200);
  }, 60_000);
});
