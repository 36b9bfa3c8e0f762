/**
 * The deadline timers (`state/deadlines.ts`): a connection never outlives its credential (4002)
 * nor, unauthenticated, its auth deadline (4001), even if silent. One timer serves every
 * connection of a guard (a `Timeout` per connection was ~0.25 KiB of each idle connection): a
 * deadline fires within its slice (`DEADLINE_SLICE_MS` after it at most, never before), a moved
 * deadline is honoured, and a connection that is closed, or never attached, leaves nothing
 * scheduled.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConnectionState, createConnectionState } from '../../../src/state/connection.ts';
import { createDeadlines, DEADLINE_SLICE_MS } from '../../../src/state/deadlines.ts';

let n = 0;
/** An attached connection with `deadline` (ms since epoch) as its credential's expiry, or its auth deadline. */
function conn(deadline: number | undefined, authenticated = true): ConnectionState {
  const c = createConnectionState(
    { ip: '192.0.2.1', origin: null, userAgent: undefined, url: '/ws', protocol: undefined },
    `c${++n}`,
    '192.0.2.1',
    '/ws',
    0,
    Date.now(),
  );
  if (authenticated) {
    c.principal = { sub: c.id, roles: [], permissions: [] };
    c.expiresAt = deadline;
  } else c.authDeadline = deadline;
  c.terminate = () => {};
  return c;
}

describe('deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup() {
    const expired: [string, number][] = [];
    const d = createDeadlines(
      () => Date.now(),
      (c) => expired.push([c.id, Date.now()]),
    );
    return { d, expired };
  }

  it('one timer for every connection, whatever their deadlines', () => {
    const { d } = setup();
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) d.arm(conn(t0 + 1_000 + i * 7_919));
    expect(vi.getTimerCount()).toBe(1);
  });

  it('fires each deadline within its slice, never before it, in deadline order', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const offsets = [5_000, 1_234, 1_235, 61_000, 3_600_000, 17, 0, 400];
    const cs = offsets.map((o, i) => conn(t0 + o, i % 2 === 0));
    for (const c of cs) d.arm(c);
    vi.advanceTimersByTime(3_600_000 + DEADLINE_SLICE_MS);
    expect(expired.map(([id]) => id)).toEqual(
      [...cs].sort((a, b) => deadlineOf(a) - deadlineOf(b)).map((c) => c.id),
    );
    for (const [id, at] of expired) {
      const c = cs.find((x) => x.id === id)!;
      expect(at).toBeGreaterThanOrEqual(deadlineOf(c));
      expect(at - deadlineOf(c)).toBeLessThanOrEqual(DEADLINE_SLICE_MS);
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline already past fires at once (within a slice)', () => {
    const { d, expired } = setup();
    d.arm(conn(Date.now() - 10_000));
    vi.advanceTimersByTime(DEADLINE_SLICE_MS);
    expect(expired).toHaveLength(1);
  });

  it('a deadline moved later (a refresh re-arms) fires at the new one, not the old', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const c = conn(t0 + 1_000);
    d.arm(c);
    vi.advanceTimersByTime(500);
    c.expiresAt = t0 + 90_000;
    d.arm(c);
    vi.advanceTimersByTime(80_000);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(10_000 + DEADLINE_SLICE_MS);
    expect(expired.map(([id]) => id)).toEqual([c.id]);
  });

  it('a deadline moved earlier fires at the new one', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const far = conn(t0 + 3_600_000);
    d.arm(far);
    const c = conn(t0 + 3_600_000);
    d.arm(c);
    c.expiresAt = t0 + 2_000;
    d.arm(c);
    vi.advanceTimersByTime(2_000 + DEADLINE_SLICE_MS);
    expect(expired.map(([id]) => id)).toEqual([c.id]);
  });

  it('a deadline moved without a re-arm is re-read when it fires', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const c = conn(t0 + 1_000);
    d.arm(c);
    c.expiresAt = t0 + 5_000;
    vi.advanceTimersByTime(1_000 + DEADLINE_SLICE_MS);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(4_000);
    expect(expired.map(([id]) => id)).toEqual([c.id]);
  });

  it('a cleared or closed connection leaves nothing scheduled and never fires', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const cs = Array.from({ length: 50 }, (_, i) => conn(t0 + 1_000 + i * 100));
    for (const c of cs) d.arm(c);
    for (const c of cs.slice(0, 25)) d.clear(c);
    for (const c of cs.slice(25)) c.closed = true;
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    // And the other way round: cleared after closing, in any order.
    const more = Array.from({ length: 20 }, (_, i) => conn(t0 + 20_000 + ((i * 37) % 20) * 50));
    for (const c of more) d.arm(c);
    for (const c of [...more].reverse()) d.clear(c);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(expired).toEqual([]);
  });

  it('arms nothing before the socket is attached, nor without a deadline', () => {
    const { d } = setup();
    const unattached = conn(Date.now() + 1_000);
    unattached.terminate = undefined;
    d.arm(unattached);
    d.arm(conn(undefined));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an expiry that throws does not keep the others from expiring', () => {
    const expired: string[] = [];
    const d = createDeadlines(
      () => Date.now(),
      (c) => {
        expired.push(c.id);
        if (expired.length === 1) throw new Error('boom');
      },
    );
    const t0 = Date.now();
    const cs = [conn(t0 + 100), conn(t0 + 100), conn(t0 + 5_000)];
    for (const c of cs) d.arm(c);
    expect(() => vi.advanceTimersByTime(100 + DEADLINE_SLICE_MS)).toThrow('boom');
    vi.advanceTimersByTime(5_000 + DEADLINE_SLICE_MS);
    expect(expired).toEqual(cs.map((c) => c.id));
  });

  it('a connection armed again while its deadline is being fired is kept in order', () => {
    const { d, expired } = setup();
    const t0 = Date.now();
    const a = conn(t0 + 1_000);
    const b = conn(t0 + 1_000);
    const later = conn(t0 + 30_000);
    for (const c of [a, b, later]) d.arm(c);
    vi.advanceTimersByTime(1_000 + DEADLINE_SLICE_MS);
    expect(expired.map(([id]) => id)).toEqual([a.id, b.id]);
    vi.advanceTimersByTime(29_000 + DEADLINE_SLICE_MS);
    expect(expired.map(([id]) => id)).toEqual([a.id, b.id, later.id]);
  });

  it('random arms, moves and clears: each live deadline fires once, within its slice', () => {
    let seed = 17;
    const rand = (k: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % k;
    };
    for (let run = 0; run < 20; run++) {
      const { d, expired } = setup();
      const t0 = Date.now();
      const cs = Array.from({ length: 60 }, () => conn(t0 + rand(20_000)));
      const cleared = new Set<string>();
      for (const c of cs) d.arm(c);
      for (let op = 0; op < 120; op++) {
        const c = cs[rand(cs.length)]!;
        if (rand(3) === 0) {
          d.clear(c);
          cleared.add(c.id);
        } else {
          c.expiresAt = t0 + rand(20_000);
          d.arm(c);
          cleared.delete(c.id);
        }
      }
      vi.advanceTimersByTime(20_000 + DEADLINE_SLICE_MS);
      const live = cs.filter((c) => !cleared.has(c.id));
      expect(expired.map(([id]) => id).sort()).toEqual(live.map((c) => c.id).sort());
      for (const [id, at] of expired) {
        const late = at - deadlineOf(cs.find((c) => c.id === id)!);
        expect(late).toBeGreaterThanOrEqual(0);
        expect(late).toBeLessThanOrEqual(DEADLINE_SLICE_MS);
      }
      expect(vi.getTimerCount()).toBe(0);
    }
  });
});

function deadlineOf(c: ConnectionState): number {
  return (c.principal ? c.expiresAt : c.authDeadline) as number;
}
