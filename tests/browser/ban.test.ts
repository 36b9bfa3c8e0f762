/**
 * Browsers learn about bans. A browser cannot read the status of a refused WebSocket handshake
 * (its page sees a bare 1006), so a banned handshake that carries an allowed `Origin` is accepted
 * and closed with 4030 and `banned until <ISO>`, which the page's close event does show; the
 * ticket endpoint answers a banned user or address with 403, `Retry-After` and a `BANNED` body
 * the page can read. Clients without `Origin` are still refused at the upgrade (403 +
 * Retry-After). Debian's Chromium driven by playwright-core; the browser sets `Origin` itself.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Not `WebSocket`: inside page.evaluate that name must be the browser's, not this import.
import NodeWebSocket from 'ws';
import { announceChromium, hasChromium, launchChromium } from './chromium.ts';
import { type BanApp, startBanApp } from './fixtures/ban-app.ts';

announceChromium('browser tests (bans)');

const reasonOf = (until: number): string => `banned until ${new Date(until).toISOString()}`;

/** What the page saw of one `new WebSocket(url)`: open, an echo, its close (at most 3 s). */
interface PageSocket {
  opened: boolean;
  echoed: boolean;
  code: number | null;
  reason: string | null;
}

/** Open a socket from the page; resolves at its close, at its first echo, or after 3 s. */
function pageSocket(page: Page, url: string): Promise<PageSocket> {
  return page.evaluate(
    (u) =>
      new Promise<PageSocket>((resolve) => {
        const out: PageSocket = { opened: false, echoed: false, code: null, reason: null };
        const ws = new WebSocket(u);
        const timer = setTimeout(() => resolve(out), 3000);
        ws.onopen = () => {
          out.opened = true;
          ws.send('{"hello":1}');
        };
        ws.onmessage = () => {
          out.echoed = true;
          clearTimeout(timer);
          ws.close(1000);
          resolve(out);
        };
        ws.onclose = (e) => {
          out.code = e.code;
          out.reason = e.reason;
          clearTimeout(timer);
          resolve(out);
        };
      }),
    url,
  );
}

/** `fetch('/ws/ticket', …)` from the page, as the app's script would. */
function pageTicket(
  page: Page,
  token: string,
): Promise<{ status: number; retryAfter: string | null; body: string }> {
  return page.evaluate(async (t) => {
    const r = await fetch('/ws/ticket', {
      method: 'POST',
      headers: { authorization: `Bearer ${t}` },
    });
    return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() };
  }, token);
}

/** A socket the page keeps open on `window.kept`, with its close recorded there. */
async function keepSocket(page: Page, url: string): Promise<void> {
  await page.evaluate((u) => {
    const w = window as unknown as { kept: { open: boolean; close: unknown } };
    w.kept = { open: false, close: null };
    const ws = new WebSocket(u);
    ws.onopen = () => {
      w.kept.open = true;
    };
    ws.onclose = (e) => {
      w.kept.close = { code: e.code, reason: e.reason };
    };
  }, url);
  await page.waitForFunction(
    () => (window as unknown as { kept: { open: boolean } }).kept.open,
    undefined,
    { timeout: 5000 },
  );
}

async function keptClose(page: Page): Promise<{ code: number; reason: string }> {
  const handle = await page.waitForFunction(
    () => (window as unknown as { kept: { close: unknown } }).kept.close,
    undefined,
    { timeout: 3000 },
  );
  return (await handle.jsonValue()) as { code: number; reason: string };
}

/** The ticket endpoint's ban answer, checked field by field against the ban's end. */
function expectBanned(
  r: { status: number; retryAfter: string | null; body: string },
  until: number,
): void {
  expect(r.status).toBe(403);
  const body = JSON.parse(r.body) as {
    error: { code: string; message: string; until: string; retryAfterSec: number };
  };
  const left = Math.ceil((until - Date.now()) / 1000);
  expect(body).toEqual({
    error: {
      code: 'BANNED',
      message: reasonOf(until),
      until: new Date(until).toISOString(),
      retryAfterSec: body.error.retryAfterSec,
    },
  });
  expect(body.error.retryAfterSec).toBeGreaterThanOrEqual(left - 1);
  expect(body.error.retryAfterSec).toBeLessThanOrEqual(left + 1);
  expect(r.retryAfter).toBe(String(body.error.retryAfterSec));
}

/** A Node client without `Origin` (not a browser): refused at the upgrade. */
function bareHandshake(url: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new NodeWebSocket(url, { handshakeTimeout: 5000 });
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      const h = res.headers['retry-after'];
      resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(h) ? h[0] : h });
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('a client without Origin was let in'));
    });
    ws.on('close', (code) => reject(new Error(`closed ${code} instead of an HTTP refusal`)));
  });
}

describe.skipIf(!hasChromium)('bans in Chromium', () => {
  let browser: Browser;
  const apps: BanApp[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(apps.map((a) => a.close()));
  });

  it('a banned user’s page: its socket closes with 4030 and the end, its ticket request gets 403 BANNED', async () => {
    const app = await startBanApp();
    apps.push(app);
    const page = await browser.newPage();
    await page.goto(app.url);

    // Before the ban, a socket and a ticket for the same user work: the test can tell.
    const before = await app.guard.issueTicket(
      { sub: 'mallory', roles: [], permissions: [] },
      { origin: app.url },
    );
    const alice = await pageSocket(page, `${app.ws}?token=${await app.token('alice')}`);
    expect(alice).toMatchObject({ opened: true, echoed: true });
    expect((await pageTicket(page, await app.token('alice'))).status).toBe(200);
    await keepSocket(page, `${app.ws}?token=${await app.token('mallory')}`);

    const until = await app.guard.ban('user', 'mallory', 60_000);
    // The socket that was open is closed with the end.
    expect(await keptClose(page)).toEqual({ code: 4030, reason: reasonOf(until) });
    // A new one, by token or by a ticket issued before the ban, is told the same.
    const byToken = await pageSocket(page, `${app.ws}?token=${await app.token('mallory')}`);
    expect(byToken).toMatchObject({ echoed: false, code: 4030, reason: reasonOf(until) });
    const byTicket = await pageSocket(page, `${app.ws}?ticket=${before.ticket}`);
    expect(byTicket).toMatchObject({ echoed: false, code: 4030, reason: reasonOf(until) });
    expectBanned(await pageTicket(page, await app.token('mallory')), until);
    // Others are not affected.
    expect(await pageSocket(page, `${app.ws}?token=${await app.token('alice')}`)).toMatchObject({
      opened: true,
      echoed: true,
    });
    // Not a browser: the upgrade is refused with its status.
    const bare = await bareHandshake(`${app.ws}?token=${await app.token('mallory')}`);
    expect(bare.status).toBe(403);
    expect(Number(bare.retryAfter)).toBeGreaterThan(0);
    await page.close();
  }, 20_000);

  it('a banned address: the page’s sockets close with 4030 and the end, its ticket request gets 403 BANNED', async () => {
    const app = await startBanApp();
    apps.push(app);
    const page = await browser.newPage();
    await page.goto(app.url);
    await keepSocket(page, `${app.ws}?token=${await app.token('bob')}`);
    // The address Chromium connects from, as the guard saw it.
    const ips = [...app.guard.connections()].map((c) => c.ip);
    expect(ips).toEqual(['127.0.0.1']);

    const until = await app.guard.ban('ip', '127.0.0.1', 60_000);
    expect(await keptClose(page)).toEqual({ code: 4030, reason: reasonOf(until) });
    const again = await pageSocket(page, `${app.ws}?token=${await app.token('bob')}`);
    expect(again).toMatchObject({ echoed: false, code: 4030, reason: reasonOf(until) });
    // Without credentials too: the address is refused before they are read.
    const anonymous = await pageSocket(page, app.ws);
    expect(anonymous).toMatchObject({ echoed: false, code: 4030, reason: reasonOf(until) });
    expectBanned(await pageTicket(page, await app.token('carol')), until);
    const bare = await bareHandshake(`${app.ws}?token=${await app.token('bob')}`);
    expect(bare.status).toBe(403);
    expect(Number(bare.retryAfter)).toBeGreaterThan(0);

    // Lifted, the same page gets in again.
    await app.guard.unban('ip', '127.0.0.1');
    expect(await pageSocket(page, `${app.ws}?token=${await app.token('bob')}`)).toMatchObject({
      opened: true,
      echoed: true,
    });
    expect((await pageTicket(page, await app.token('carol'))).status).toBe(200);
    await page.close();
  }, 20_000);
});
