/**
 * What the Node soak's heap grew by (docs/soak.md, "Node: timer lists"): the guard arms one timer
 * per connection at its credential's `exp` and unrefs it. Node keeps one list per distinct timer
 * duration, and for an unref'd timer it keeps that list after `clearTimeout` until the duration
 * has passed (lib/timers.js `unenroll`: "We only delete refed lists"). The duration is `exp - now`,
 * new for nearly every connection, so each closed connection left ~150 B for the rest of its
 * token's life (up to 24.8 days, the longest timer Node holds). Bounded by the token lifetime, but
 * proportional to the handshake rate times that lifetime.
 *
 * 10,000 connections, each with its own `exp` an hour or more away, accepted, attached (the timer
 * armed) and closed: the heap after a full GC must not keep anything per connection.
 */

import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createGuard, type GuardConnection } from '../../src/mod.ts';
import { heapAfterGc } from '../fixtures/heap.ts';

const ORIGIN = 'https://app.example.com';
const SECRET = new TextEncoder().encode('t'.repeat(40));
const N = 10_000;

describe('per-connection timers leave nothing behind once closed', () => {
  it(`${N} connections with distinct expiries, closed: under 40 B each kept`, async () => {
    const guard = createGuard({
      origins: [ORIGIN],
      // The verified-token cache keeps up to 1,000 of these tokens by design (bounded apart, in
      // tests/unit/auth/jwt-cache.test.ts); this test is about what the timers keep.
      jwt: { algorithms: ['HS256'], secret: SECRET, cache: false },
      limits: { connectRate: false, maxConnectionsPerIp: false, maxConnectionsPerUser: false },
      penalties: false,
      audit: false,
    });
    const base = Math.floor(Date.now() / 1000) + 3600;
    const tokens: string[] = [];
    for (let i = 0; i < N + 500; i++)
      tokens.push(
        await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('alice')
          .setExpirationTime(base + i) // a distinct duration for each connection's timer
          .sign(SECRET),
      );
    const cycle = async (token: string): Promise<void> => {
      const request = new Request('http://127.0.0.1/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${token}` },
      });
      const decision = await guard.upgrade({ request, ip: '127.0.0.1' });
      if (!decision.ok) throw new Error(`refused: ${decision.reason}`);
      const c: GuardConnection = decision.connection;
      guard.attach(c, () => {});
      await guard.close(c, 1000);
    };
    // Warm-up: JIT, the stats maps, the store's maps.
    for (const t of tokens.slice(N)) await cycle(t);
    const started = Date.now();
    const before = heapAfterGc();
    for (const t of tokens.slice(0, N)) await cycle(t);
    const kept = (heapAfterGc() - before) / N;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(guard.stats().connections).toBe(0);
    // Was ~150 B each (one of Node's timer lists per connection, until its token expires).
    expect(kept).toBeLessThan(40);
    await guard.shutdown();
  }, 30_000);
});
