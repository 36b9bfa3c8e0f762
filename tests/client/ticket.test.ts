/**
 * `fetchTicket` against a real HTTP server (each answer the ticket endpoint gives, and the ones
 * it may give after the ban change), `banEnd`, and the retry budget's arithmetic.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/client/retry-budget.ts';
import { banEnd, fetchTicket, retryHintMs, TicketError } from '../../src/client.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A server answering every request with `status`, `headers`, `body`; it records the requests. */
async function answering(status: number, body: string, headers: Record<string, string> = {}) {
  const seen: { method?: string; auth?: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method, auth: req.headers.authorization });
    res.writeHead(status, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ws/ticket`, seen };
}

async function thrown(p: Promise<unknown>): Promise<TicketError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(TicketError);
  return e as TicketError;
}

describe('fetchTicket', () => {
  it('POSTs with the given headers and returns the ticket', async () => {
    const s = await answering(200, JSON.stringify({ ticket: 'abc', expiresIn: 10 }));
    expect(await fetchTicket(s.url, { headers: { authorization: 'Bearer x' } })).toBe('abc');
    expect(s.seen).toEqual([{ method: 'POST', auth: 'Bearer x' }]);
  });

  it('reads a 403 BANNED body: code, message, end, Retry-After', async () => {
    const until = '2031-05-06T07:08:09.000Z';
    const s = await answering(
      403,
      JSON.stringify({
        error: { code: 'BANNED', message: `banned until ${until}`, until, retryAfterSec: 42 },
      }),
      { 'retry-after': '42' },
    );
    const started = Date.now();
    const e = await thrown(fetchTicket(s.url));
    expect({ ...e, message: e.message }).toMatchObject({
      status: 403,
      code: 'BANNED',
      message: `banned until ${until}`,
      retryAfterMs: 42_000,
    });
    // Relative to this clock (skew-proof), not the absolute `until` of the server's clock.
    expect(e.until).toBeGreaterThanOrEqual(started + 42_000);
    expect(e.until).toBeLessThanOrEqual(Date.now() + 42_000);
  });

  it('the end comes from retryAfterSec without the header, and from `until` without either', async () => {
    const until = '2031-05-06T07:08:09.000Z';
    const sec = await answering(
      403,
      JSON.stringify({ error: { code: 'BANNED', until, retryAfterSec: 7 } }),
    );
    const started = Date.now();
    const a = await thrown(fetchTicket(sec.url));
    expect(a.retryAfterMs).toBe(7000);
    expect(a.until).toBeGreaterThanOrEqual(started + 7000);
    const abs = await answering(403, JSON.stringify({ error: { code: 'BANNED', until } }));
    const b = await thrown(fetchTicket(abs.url));
    expect([b.until, b.retryAfterMs]).toEqual([Date.parse(until), undefined]);
  });

  it('a BANNED body with an unreadable end falls back to Retry-After (an HTTP date too)', async () => {
    const end = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000);
    const s = await answering(
      403,
      JSON.stringify({ error: { code: 'BANNED', message: 'banned', until: 'soon' } }),
      { 'retry-after': end.toUTCString() },
    );
    const e = await thrown(fetchTicket(s.url));
    expect(e.code).toBe('BANNED');
    expect(e.retryAfterMs).toBeGreaterThan(55_000);
    expect(Math.abs(e.until! - end.getTime())).toBeLessThan(2000);
  });

  it("today's refusals: a string error, a non-JSON body, a 200 without a ticket", async () => {
    const origin = await answering(403, JSON.stringify({ error: 'origin not allowed' }));
    expect(await thrown(fetchTicket(origin.url))).toMatchObject({
      status: 403,
      code: 'HTTP_403',
      message: 'origin not allowed',
      until: undefined,
    });
    const gateway = await answering(502, '<html>bad gateway</html>');
    expect(await thrown(fetchTicket(gateway.url))).toMatchObject({
      status: 502,
      code: 'HTTP_502',
      message: 'ticket refused: HTTP 502',
    });
    const empty = await answering(200, '{}');
    expect(await thrown(fetchTicket(empty.url))).toMatchObject({ status: 200, code: 'NO_TICKET' });
    // A 200 saying BANNED is no ban: only a refusal is.
    const odd = await answering(200, JSON.stringify({ error: { code: 'BANNED', until: 'x' } }));
    expect((await thrown(fetchTicket(odd.url))).until).toBeUndefined();
  });

  it('a relative URL outside a browser is a BAD_URL, not a bare TypeError', async () => {
    expect(await thrown(fetchTicket('/ws/ticket'))).toMatchObject({ status: 0, code: 'BAD_URL' });
  });
});

describe('policy and budget', () => {
  it('banEnd reads the end of a 4030 reason, and nothing else', () => {
    expect(banEnd('banned until 2026-11-23T20:00:00.000Z')).toBe(
      Date.parse('2026-11-23T20:00:00.000Z'),
    );
    expect(banEnd('banned')).toBeUndefined();
    expect(banEnd('banned until 2026-99-99T99:99:99.000Z')).toBeUndefined();
    expect(retryHintMs('banned until 2026-01-01T00:00:10.000Z', Date.parse('2026-01-01'))).toBe(
      10_000,
    );
  });

  it('RetryBudget: a count bound, a time bound, a reset', () => {
    let now = 1000;
    const b = new RetryBudget({ maxAttempts: 3, maxElapsedMs: 500 }, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.exhausted()).toBe(true);
    b.reset();
    expect(b.take()).toBe(true);
    now += 499;
    expect(b.take()).toBe(true);
    now += 1;
    expect(b.take()).toBe(false);
    // maxAttempts below 1 still lets one attempt through.
    expect(new RetryBudget({ maxAttempts: 0 }).take()).toBe(true);
  });
});
