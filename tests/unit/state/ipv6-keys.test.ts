/**
 * Per-IP defences key IPv6 clients by their prefix (default /64): rotating interface ids inside
 * one /64 no longer passes as a fresh client (the review: 2,000 forged tokens, no ban, no rate hit).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/mod.ts';
import { forged, settle, testGuard } from '../fixtures/guards.ts';

const rotating = (i: number) =>
  `2001:db8:1:2:${((i * 7919) % 0xffff).toString(16)}:${i.toString(16)}:0:1`;

describe('IPv6 prefix keys', () => {
  it('forged tokens from rotating addresses of one /64 ban the /64 (and close its sockets)', async () => {
    const { guard, upgrade, open } = testGuard(createMemoryStore(), {
      penalties: { threshold: 20 },
    });
    const socket = await open({ ip: rotating(999), sub: 'mallory' });
    const reasons: string[] = [];
    for (let i = 0; i < 20; i++) {
      const d = await upgrade({ ip: rotating(i), token: await forged('admin') });
      reasons.push(d.ok ? 'ok' : d.reason);
      await settle();
    }
    // 4 points each against one key, threshold 20: banned from the sixth or seventh on (the score
    // decays a little in real time); before the fix, none of the 20 was banned.
    expect(reasons.slice(0, 5)).toEqual(Array(5).fill('credentials_invalid'));
    expect(reasons.slice(7)).toEqual(Array(13).fill('banned'));
    expect(socket.closes.map((c) => c.code)).toEqual([4030]);
    // Another /64 of the same /48 is a different client.
    expect(await upgrade({ ip: '2001:db8:1:3::5', sub: 'bob' })).toMatchObject({ ok: true });
    expect(await guard.bannedUntil('ip', '2001:db8:1:2::abcd')).toBeDefined();
  });

  it('the connection rate and the address cap hold for the /64, not per address', async () => {
    const { upgrade } = testGuard(createMemoryStore(), {
      penalties: false,
      limits: {
        connectRate: { limit: 5, windowMs: 60_000, burst: 5 },
        maxConnectionsPerIp: 3,
      },
    });
    const results: string[] = [];
    for (let i = 0; i < 8; i++) {
      const d = await upgrade({ ip: rotating(i), sub: `u${i}` });
      results.push(d.ok ? 'ok' : d.reason);
    }
    expect(results).toEqual([
      'ok',
      'ok',
      'ok',
      'ip_cap',
      'ip_cap',
      'connect_rate',
      'connect_rate',
      'connect_rate',
    ]);
  });

  it('an IPv4-mapped IPv6 address is the IPv4 client', async () => {
    const { guard, upgrade } = testGuard(createMemoryStore());
    await guard.ban('ip', '198.51.100.7', 60_000);
    expect(await upgrade({ ip: '::ffff:198.51.100.7', sub: 'a', origin: null })).toMatchObject({
      ok: false,
      reason: 'banned',
    });
  });

  it('ipv6Prefix is configurable, and refused out of range', async () => {
    const { upgrade } = testGuard(createMemoryStore(), {
      ipv6Prefix: 128,
      penalties: false,
      limits: { connectRate: false, maxConnectionsPerIp: 1 },
    });
    expect((await upgrade({ ip: rotating(1), sub: 'a' })).ok).toBe(true);
    expect((await upgrade({ ip: rotating(2), sub: 'b' })).ok).toBe(true);
    expect(() => testGuard(createMemoryStore(), { ipv6Prefix: 8 })).toThrow(/ipv6Prefix/);
  });
});
