import { describe, expect, it } from 'vitest';
import { createGuard, type GuardOptions, gcraStep, LocalLimiter } from '../../../src/mod.ts';

const ORIGIN = 'https://app.example.com';

describe('gcraStep', () => {
  const rule = { limit: 10, windowMs: 1000, burst: 3 }; // one event per 100 ms, 3 at once

  it('allows a full burst from idle, then refuses with the exact wait', () => {
    let tat = 0;
    const t = 50_000;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = gcraStep(tat, t, rule);
      expect(s.result.allowed).toBe(true);
      expect(s.result.retryAfterMs).toBe(0);
      remaining.push(s.result.remaining);
      tat = s.tat;
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = gcraStep(tat, t, rule);
    expect(refused.result).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100 });
  });

  it('leaves the state unchanged when it refuses', () => {
    let tat = 0;
    for (let i = 0; i < 3; i++) tat = gcraStep(tat, 1000, rule).tat;
    const refused = gcraStep(tat, 1000, rule);
    expect(refused.tat).toBe(tat);
  });

  it('reports a retryAfterMs after which the event is allowed, and not a millisecond before', () => {
    let tat = 0;
    for (let i = 0; i < 3; i++) tat = gcraStep(tat, 1000, rule).tat;
    const wait = gcraStep(tat, 1030, rule).result.retryAfterMs;
    expect(wait).toBe(70);
    expect(gcraStep(tat, 1030 + wait - 1, rule).result.allowed).toBe(false);
    expect(gcraStep(tat, 1030 + wait, rule).result.allowed).toBe(true);
  });

  it('settles at the steady rate after the burst: one event per interval', () => {
    let tat = 0;
    let t = 10_000;
    for (let i = 0; i < 3; i++) tat = gcraStep(tat, t, rule).tat;
    let allowed = 0;
    // Try every 10 ms for 1 s: the sustained rate of 10/s lets exactly 10 through.
    for (let i = 0; i < 100; i++) {
      t += 10;
      const s = gcraStep(tat, t, rule);
      if (s.result.allowed) allowed++;
      tat = s.tat;
    }
    expect(allowed).toBe(10);
  });

  it('allows the retry at exactly retryAfterMs even when the interval is fractional', () => {
    // 34599 / 9 ms per event: (now + interval) - interval rounds above now in floating point.
    const fractional = { limit: 9, windowMs: 34_599, burst: 1 };
    const first = gcraStep(0, 0, fractional);
    const refused = gcraStep(first.tat, 0, fractional);
    expect(refused.result.allowed).toBe(false);
    const wait = refused.result.retryAfterMs;
    expect(wait).toBe(3845);
    expect(gcraStep(first.tat, wait, fractional).result.allowed).toBe(true);
  });

  it('never refuses events spaced at the sustained rate, whatever the rounding', () => {
    const fractional = { limit: 7, windowMs: 60_126, burst: 1 };
    const gap = Math.ceil(60_126 / 7);
    let tat = 0;
    for (let i = 0; i < 6; i++) {
      const s = gcraStep(tat, 1_000_000 + i * gap, fractional);
      expect(s.result.allowed).toBe(true);
      tat = s.tat;
    }
  });

  it('defaults the burst to the limit', () => {
    let tat = 0;
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      const s = gcraStep(tat, 5000, { limit: 5, windowMs: 1000 });
      if (s.result.allowed) allowed++;
      tat = s.tat;
    }
    expect(allowed).toBe(5);
  });

  it('charges a cost of several events at once, and refuses a cost larger than the burst', () => {
    const s = gcraStep(0, 1000, rule, 3);
    expect(s.result.allowed).toBe(true);
    expect(s.result.remaining).toBe(0);
    expect(gcraStep(s.tat, 1000, rule).result.allowed).toBe(false);
    expect(gcraStep(0, 1000, rule, 4).result.allowed).toBe(false);
  });

  it('recovers the whole burst after idling for burst intervals', () => {
    let tat = 0;
    for (let i = 0; i < 3; i++) tat = gcraStep(tat, 1000, rule).tat;
    let allowed = 0;
    for (let i = 0; i < 5; i++) {
      const s = gcraStep(tat, 1300, rule);
      if (s.result.allowed) allowed++;
      tat = s.tat;
    }
    expect(allowed).toBe(3);
  });
});

describe('LocalLimiter', () => {
  it('keeps separate budgets per key', () => {
    const limiter = new LocalLimiter({ limit: 2, windowMs: 1000 });
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(false);
    expect(limiter.take('b', 0).allowed).toBe(true);
    expect(limiter.size).toBe(2);
  });

  it('does not consume budget on refusals: after a flood of refusals one interval frees one event', () => {
    const limiter = new LocalLimiter({ limit: 1, windowMs: 1000, burst: 1 });
    expect(limiter.take('k', 10_000).allowed).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const r = limiter.take('k', 10_000 + (i % 999));
      expect(r.allowed).toBe(false);
    }
    expect(limiter.take('k', 11_000)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(limiter.take('k', 11_000).allowed).toBe(false);
  });

  it('gives a retryAfterMs that is exactly the wait for the next event', () => {
    const limiter = new LocalLimiter({ limit: 4, windowMs: 1000, burst: 2 });
    limiter.take('k', 0);
    limiter.take('k', 0);
    const r = limiter.take('k', 0);
    expect(r).toEqual({ allowed: false, remaining: 0, retryAfterMs: 250 });
    expect(limiter.take('k', 249).allowed).toBe(false);
    expect(limiter.take('k', 250).allowed).toBe(true);
  });

  it('forgets a deleted key: it starts again with a full burst', () => {
    const limiter = new LocalLimiter({ limit: 1, windowMs: 60_000 });
    expect(limiter.take('k', 0).allowed).toBe(true);
    expect(limiter.take('k', 0).allowed).toBe(false);
    limiter.delete('k');
    expect(limiter.size).toBe(0);
    expect(limiter.take('k', 0).allowed).toBe(true);
  });

  it('sweeps idle keys without changing any decision', () => {
    const limiter = new LocalLimiter({ limit: 1, windowMs: 1000 });
    for (let i = 0; i < 2000; i++) limiter.take(`k${i}`, 0);
    // At t = 5000 every key is idle; the amortised sweep drops them.
    for (let i = 0; i < 1100; i++) limiter.take('busy', 5000);
    expect(limiter.size).toBeLessThan(2000);
    expect(limiter.take('k1', 5000).allowed).toBe(true);
    expect(limiter.take('busy', 5000).allowed).toBe(false);
  });
});

describe('connection rate per IP (guard.upgrade)', () => {
  const secret = 's'.repeat(40);

  const makeGuard = (extra: Partial<GuardOptions> = {}) => {
    let t = 1_000_000;
    const clock = {
      now: () => t,
      advance: (ms: number) => {
        t += ms;
      },
    };
    const guard = createGuard({
      origins: [ORIGIN],
      jwt: { algorithms: ['HS256'], secret },
      allowAnonymous: true,
      audit: false,
      penalties: false,
      now: clock.now,
      limits: { connectRate: { limit: 2, windowMs: 10_000, burst: 3 } },
      ...extra,
    });
    return { guard, clock };
  };

  const attempt = (guard: ReturnType<typeof createGuard>, ip: string) =>
    guard.upgrade({
      request: new Request('http://localhost/ws', { headers: { origin: ORIGIN } }),
      ip,
    });

  it('refuses the attempt past the burst with 429, reason connect_rate and a Retry-After', async () => {
    const { guard } = makeGuard();
    for (let i = 0; i < 3; i++) expect((await attempt(guard, '198.51.100.1')).ok).toBe(true);
    const d = await attempt(guard, '198.51.100.1');
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.status).toBe(429);
    expect(d.closeCode).toBe(4029);
    expect(d.reason).toBe('connect_rate');
    expect(d.mode).toBe('http');
    // One attempt per 5 s sustained: the next one is 5 s away.
    expect(d.retryAfter).toBe(5);
  });

  it('counts each IP on its own: a flooding IP does not block another', async () => {
    const { guard } = makeGuard();
    for (let i = 0; i < 3; i++) await attempt(guard, '198.51.100.1');
    expect((await attempt(guard, '198.51.100.1')).ok).toBe(false);
    for (let i = 0; i < 3; i++) expect((await attempt(guard, '198.51.100.2')).ok).toBe(true);
    expect((await attempt(guard, '198.51.100.2')).ok).toBe(false);
  });

  it('lets the IP in again once the Retry-After has passed', async () => {
    const { guard, clock } = makeGuard();
    for (let i = 0; i < 3; i++) await attempt(guard, '198.51.100.1');
    const d = await attempt(guard, '198.51.100.1');
    expect(d.ok).toBe(false);
    if (d.ok) return;
    clock.advance((d.retryAfter ?? 0) * 1000);
    expect((await attempt(guard, '198.51.100.1')).ok).toBe(true);
    expect((await attempt(guard, '198.51.100.1')).ok).toBe(false);
  });

  it('counts refused attempts in the stats by reason', async () => {
    const { guard } = makeGuard();
    for (let i = 0; i < 5; i++) await attempt(guard, '198.51.100.1');
    expect(guard.stats().rejections).toEqual({ connect_rate: 2 });
  });

  it('checks nothing when connectRate is false', async () => {
    const { guard } = makeGuard({ limits: { connectRate: false, maxConnectionsPerIp: false } });
    for (let i = 0; i < 50; i++) expect((await attempt(guard, '198.51.100.1')).ok).toBe(true);
  });
});
