/**
 * Load shedding at the handshake (`limits.maxPendingHandshakes`): past the cap of handshakes this
 * instance is deciding, a new one is refused at once with 503 `overloaded` and a spread
 * `Retry-After`, before any store step or credential check, so a reconnect storm cannot pile up
 * store calls until all of them time out. The refused handshake spends no ticket, scores nothing
 * and counts no connection attempt; once the pending ones are decided, handshakes pass again.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Reject, type Store } from '../../../src/mod.ts';
import { settle, testGuard } from '../fixtures/guards.ts';

/** A memory store whose `limit` (the connection-rate step) waits until released. */
function gatedStore(): {
  store: Store;
  calls: string[];
  held(n: number): Promise<void>;
  release(): void;
} {
  const inner = createMemoryStore();
  const calls: string[] = [];
  const waiting: (() => void)[] = [];
  let gated = true;
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...x: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (prop !== 'limit' || !gated) return fn(...args);
        return new Promise<void>((r) => waiting.push(r)).then(() => fn(...args));
      };
    },
  });
  return {
    store,
    calls,
    /** Until `n` steps wait at the gate (bounded: 2 s). */
    async held(n) {
      for (let i = 0; i < 400 && waiting.length < n; i++) await settle(5);
      expect(waiting.length).toBe(n);
    },
    release() {
      gated = false;
      for (const w of waiting.splice(0)) w();
    },
  };
}

const RATE = { limit: 1000, windowMs: 1000, burst: 1000 };

describe('maxPendingHandshakes', () => {
  it('refuses past the cap with 503 overloaded, touching no store and spending no ticket', async () => {
    const gate = gatedStore();
    const { guard, upgrade, events } = testGuard(gate.store, {
      tickets: true,
      limits: { connectRate: RATE, maxPendingHandshakes: 4 },
    });
    const pending = Array.from({ length: 4 }, (_, i) =>
      upgrade({ ip: `203.0.113.${i + 1}`, sub: `u${i}` }),
    );
    await gate.held(4);
    const callsBefore = gate.calls.length;
    const ticket = await guard.issueTicket({ sub: 'late', roles: [], permissions: [] });
    const callsAfterIssue = gate.calls.length;
    const shed = (await upgrade({
      ip: '203.0.113.9',
      url: `/ws?ticket=${encodeURIComponent(ticket.ticket)}`,
    })) as Reject;
    expect(shed).toMatchObject({ ok: false, reason: 'overloaded', status: 503, closeCode: 1013 });
    expect(shed.mode).toBe('http');
    expect(shed.retryAfter).toBeGreaterThanOrEqual(1);
    expect(shed.retryAfter).toBeLessThanOrEqual(5);
    // No store step for the shed handshake (the ticket's issue made its own calls).
    expect(gate.calls.length).toBe(callsAfterIssue);
    expect(callsAfterIssue).toBeGreaterThan(callsBefore);
    expect(guard.stats().rejections['overloaded']).toBe(1);
    expect(
      events.filter((e) => e.type === 'connection.rejected' && e.reason === 'overloaded'),
    ).toHaveLength(1);
    // Nothing scored against the address.
    expect(await guard.penaltyScore('ip', '203.0.113.9')).toMatchObject({ score: 0 });

    gate.release();
    const decided = await Promise.all(pending);
    expect(decided.map((d) => d.ok)).toEqual([true, true, true, true]);
    // The ticket was not spent: the same handshake now passes.
    const again = await upgrade({
      ip: '203.0.113.9',
      url: `/ws?ticket=${encodeURIComponent(ticket.ticket)}`,
    });
    expect(again).toMatchObject({ ok: true });
  });

  it('counts a handshake as pending until its decision, refusals and failures included', async () => {
    const gate = gatedStore();
    const { upgrade } = testGuard(gate.store, {
      limits: { connectRate: RATE, maxPendingHandshakes: 2 },
    });
    // Two refused ones (bad token, missing credential) that wait on the store, then decide.
    const a = upgrade({ ip: '203.0.113.1', token: 'not-a-token' });
    const b = upgrade({ ip: '203.0.113.2' });
    await gate.held(2);
    expect(await upgrade({ ip: '203.0.113.3', sub: 'c' })).toMatchObject({ reason: 'overloaded' });
    gate.release();
    expect(await a).toMatchObject({ ok: false, reason: 'credentials_invalid' });
    expect(await b).toMatchObject({ ok: false, reason: 'credentials_missing' });
    // Both left the count: two at once pass again.
    const [c, d] = await Promise.all([
      upgrade({ ip: '203.0.113.3', sub: 'c' }),
      upgrade({ ip: '203.0.113.4', sub: 'd' }),
    ]);
    expect([c.ok, d.ok]).toEqual([true, true]);
  });

  it('sheds no stateless refusal: a foreign origin is still refused as origin', async () => {
    const gate = gatedStore();
    const { upgrade } = testGuard(gate.store, {
      limits: { connectRate: RATE, maxPendingHandshakes: 1 },
    });
    const held = upgrade({ ip: '203.0.113.1', sub: 'a' });
    await gate.held(1);
    expect(await upgrade({ ip: '203.0.113.2', origin: 'https://evil.example.net' })).toMatchObject({
      reason: 'origin',
    });
    gate.release();
    expect(await held).toMatchObject({ ok: true });
  });

  it('false turns it off; dry run refuses nothing and audits what it would have shed', async () => {
    const off = gatedStore();
    const a = testGuard(off.store, { limits: { connectRate: RATE, maxPendingHandshakes: false } });
    const many = Array.from({ length: 100 }, (_, i) =>
      a.upgrade({ ip: `198.51.100.${i + 1}`, sub: `u${i}` }),
    );
    await off.held(100);
    off.release();
    expect((await Promise.all(many)).every((d) => d.ok)).toBe(true);

    const dry = gatedStore();
    const b = testGuard(dry.store, {
      dryRun: true,
      limits: { connectRate: RATE, maxPendingHandshakes: 1 },
    });
    const first = b.upgrade({ ip: '203.0.113.1', sub: 'a' });
    await dry.held(1);
    const second = b.upgrade({ ip: '203.0.113.2', sub: 'b' });
    await dry.held(2);
    dry.release();
    expect([(await first).ok, (await second).ok]).toEqual([true, true]);
    expect(
      b.events.filter((e) => e.type === 'limit.exceeded' && e.reason === 'overloaded'),
    ).toHaveLength(1);
  });

  it('defaults to 64 and is checked by the doctor', async () => {
    const gate = gatedStore();
    const { upgrade } = testGuard(gate.store, { limits: { connectRate: RATE } });
    const held = Array.from({ length: 64 }, (_, i) =>
      upgrade({ ip: `198.51.100.${i + 1}`, sub: `u${i}` }),
    );
    await gate.held(64);
    expect(await upgrade({ ip: '203.0.113.200', sub: 'x' })).toMatchObject({
      reason: 'overloaded',
    });
    gate.release();
    expect((await Promise.all(held)).every((d) => d.ok)).toBe(true);
    expect(() => testGuard(createMemoryStore(), { limits: { maxPendingHandshakes: 0 } })).toThrow(
      /maxPendingHandshakes/,
    );
  });
});
