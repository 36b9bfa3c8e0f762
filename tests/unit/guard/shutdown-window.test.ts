/**
 * A shutdown that spreads its clients' reconnects (`reconnectWindowMs`): each 1001 says
 * `retry in <ms>`, drawn per connection over the window, which the guarded client waits
 * (tests/client/reconnect-bounds.test.ts), so a fleet restarted at once is not asked for every
 * handshake in the same instant. Without a window, the 1001 says nothing more: clients reconnect
 * at once, as the contract says.
 */
import { describe, expect, it } from 'vitest';
import { retryHintMs } from '../../../src/client/policy.ts';
import { createMemoryStore } from '../../../src/mod.ts';
import { type TestSocket, testGuard } from '../fixtures/guards.ts';

async function openMany(extra: Parameters<typeof testGuard>[1], n: number) {
  const t = testGuard(createMemoryStore(), { limits: { connectRate: false }, ...extra });
  const sockets: TestSocket[] = [];
  for (let i = 0; i < n; i++)
    sockets.push(await t.open({ ip: `198.51.100.${i + 1}`, sub: `u${i}` }));
  return { ...t, sockets };
}

describe('shutdown with a reconnect window', () => {
  it('gives each connection its own delay within the window', async () => {
    const { guard, sockets } = await openMany({ reconnectWindowMs: 10_000 }, 50);
    await guard.shutdown();
    const delays = sockets.map((s) => {
      expect(s.closes).toHaveLength(1);
      expect(s.closes[0]!.code).toBe(1001);
      expect(s.closes[0]!.reason).toMatch(/^server shutting down; retry in \d+ ms$/);
      return retryHintMs(s.closes[0]!.reason)!;
    });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(10_000);
    // Spread, not one delay for all: 50 draws over 10 s land in at least 5 of 10 one-second bins.
    expect(new Set(delays.map((d) => Math.floor(d / 1000))).size).toBeGreaterThanOrEqual(5);
    expect(guard.stats().connections).toBe(0);
  });

  it('a shutdown may set its own window; without one the reason is unchanged', async () => {
    const a = await openMany({}, 3);
    await a.guard.shutdown('deploy');
    expect(a.sockets.map((s) => s.closes[0])).toEqual(
      Array(3).fill({ code: 1001, reason: 'deploy' }),
    );
    const b = await openMany({}, 3);
    await b.guard.shutdown('deploy', { reconnectWindowMs: 500 });
    for (const s of b.sockets) expect(retryHintMs(s.closes[0]!.reason)).toBeLessThan(500);
  });

  it('keeps the hint whole when the reason is long, within 123 bytes of UTF-8', async () => {
    const { guard, sockets } = await openMany({ reconnectWindowMs: 99_999 }, 5);
    await guard.shutdown('é'.repeat(200));
    for (const s of sockets) {
      const { reason } = s.closes[0]!;
      expect(new TextEncoder().encode(reason).byteLength).toBeLessThanOrEqual(123);
      expect(reason).toMatch(/; retry in \d+ ms$/);
    }
  });
});

describe('reconnectWindowMs is checked at start-up', () => {
  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '5000'])('refuses %s', (w) => {
    expect(() => testGuard(createMemoryStore(), { reconnectWindowMs: w as number })).toThrow(
      /reconnectWindowMs/,
    );
  });
});
