/**
 * Review: "nobody can get an innocent address refused" with the default limits and points. After
 * a deploy every client is closed with 1001 and, by the client contract, reconnects at once. Behind
 * one NAT (an office, a school: one IPv4) that is a burst of handshakes, every one with a valid
 * token. The connection rate refuses those past its burst, which is its job; but each refusal also
 * scores 2 points, so ten refusals ban the address for 5 minutes, the ban closes the sockets that
 * did get in with 4030, and the client helper stops on 4030 until the ban's end. No attacker needed.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/mod.ts';
import { attach, settle, testGuard } from '../unit/fixtures/guards.ts';

describe('a NAT reconnecting after a deploy (review)', () => {
  it('found in review: 32 users behind one address reconnecting at once (valid tokens) get the address banned', async () => {
    // Default limits and penalties (testGuard turns the connect rate off unless told otherwise).
    const { guard, upgrade } = testGuard(createMemoryStore(), {
      limits: { maxConnectionsPerIp: 40 },
    });
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, (_, i) => upgrade({ sub: `user${i}`, ip: '192.0.2.44' })),
    );
    const sockets = outcomes.flatMap((d) => (d.ok ? [attach(guard, d.connection)] : []));
    const refused = outcomes.filter((d) => !d.ok).map((d) => (d.ok ? '' : d.reason));
    expect(sockets.length).toBe(20); // the burst
    expect(refused[0]).toBe('connect_rate'); // the rest: 429, as designed
    await settle(20);
    // What must not follow from honest users reconnecting: a ban on their address, and the
    // sockets that got in closed with 4030 (on which the client helper stops for 5 minutes).
    expect(await guard.bannedUntil('ip', '192.0.2.44')).toBeUndefined();
    expect(sockets.filter((s) => s.closes[0]?.code === 4030)).toHaveLength(0);
  });
});
