/**
 * `guard.penaltyScore`: who is close to a ban, for admin views. It reads the score the guard's own
 * violations wrote (decayed, keyed like every per-IP defence), adds nothing to it, and says
 * `undefined` when violations are not scored.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/mod.ts';
import { forged, settle, testGuard } from '../fixtures/guards.ts';

describe('guard.penaltyScore', () => {
  it('reads the score a forged token left on the address, without adding to it', async () => {
    const { guard, upgrade } = testGuard(createMemoryStore(), { limits: { connectRate: false } });
    expect(await guard.penaltyScore('ip', '203.0.113.9')).toEqual({ score: 0, threshold: 20 });
    await upgrade({ ip: '203.0.113.9', token: await forged('alice') });
    await settle(); // scoring is fire and forget
    const first = await guard.penaltyScore('ip', '203.0.113.9');
    expect(first?.score).toBeCloseTo(4, 1); // credentials_invalid: 4 points
    // Reading again adds nothing (only the half-life's decay, far below 0.1 in a few ms).
    for (let i = 0; i < 5; i++) await guard.penaltyScore('ip', '203.0.113.9');
    expect((await guard.penaltyScore('ip', '203.0.113.9'))?.score).toBeCloseTo(4, 1);
    // Another address has its own score.
    expect((await guard.penaltyScore('ip', '203.0.113.10'))?.score).toBe(0);
  });

  it('keys an IPv6 address by its prefix, as the score was written', async () => {
    const { guard, upgrade } = testGuard(createMemoryStore(), { limits: { connectRate: false } });
    await upgrade({ ip: '2001:db8:1:2::10', token: await forged('alice') });
    await settle();
    expect((await guard.penaltyScore('ip', '2001:db8:1:2::99'))?.score).toBeCloseTo(4, 1);
  });

  it('follows the configured threshold, and is undefined with penalties: false', async () => {
    const custom = testGuard(createMemoryStore(), { penalties: { threshold: 7 } });
    expect(await custom.guard.penaltyScore('user', 'bob')).toEqual({ score: 0, threshold: 7 });
    const off = testGuard(createMemoryStore(), { penalties: false });
    expect(await off.guard.penaltyScore('ip', '203.0.113.9')).toBeUndefined();
  });
});
