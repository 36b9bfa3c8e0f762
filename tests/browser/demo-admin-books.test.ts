/**
 * The admin view's books, fed real-shaped audit events: the ban book (the guard cannot list its
 * bans), the refusal table (by reason and origin, bounded), the traffic chart's buckets, and the
 * score watch (real scores from a guard).
 */
import { describe, expect, it } from 'vitest';
import { BanBook } from '../../examples/demo/admin/ban-book.ts';
import { RefusalTable } from '../../examples/demo/admin/refusal-table.ts';
import { ScoreWatch } from '../../examples/demo/admin/score-watch.ts';
import { BUCKET_MS, TrafficSeries } from '../../examples/demo/admin/traffic-series.ts';
import { type AuditEvent, createGuard, createMemoryStore } from '../../src/mod.ts';

const at = (ms: number): string => new Date(ms).toISOString();

function banStarted(subject: 'ip' | 'user', id: string, until: number, extra = {}): AuditEvent {
  return {
    type: 'ban.started',
    time: at(Date.now()),
    ...(subject === 'ip' ? { ip: id } : { userId: id, ip: '127.0.0.9' }),
    reason: 'credentials_invalid',
    detail: { subject, until: at(until), score: 20.5 },
    ...extra,
  };
}

describe('the ban book', () => {
  it('lists running bans once each, drops ended and lifted ones, and skips dry runs', () => {
    const book = new BanBook();
    const soon = Date.now() + 60_000;
    book.record(banStarted('ip', '127.0.0.2', soon));
    // The penalizer may audit the same ban more than once: one entry, the latest end.
    book.record(banStarted('ip', '127.0.0.2', soon + 1000));
    book.record(banStarted('user', 'bob', soon));
    book.record(banStarted('ip', '127.0.0.3', soon, { dryRun: true }));
    book.record(banStarted('ip', '127.0.0.4', Date.now() - 1));
    expect(book.list().map((b) => [b.subject, b.id, b.until])).toEqual([
      ['user', 'bob', soon],
      ['ip', '127.0.0.2', soon + 1000],
    ]);
    book.forget('user', 'bob');
    expect(book.list().map((b) => b.id)).toEqual(['127.0.0.2']);
    expect(book.list(soon + 1000)).toEqual([]);
  });
});

describe('the refusal table', () => {
  it('counts by kind, reason and origin, and names a refused frame by its socket’s origin', () => {
    const table = new RefusalTable();
    const now = Date.now();
    for (let i = 0; i < 3; i++)
      table.record({
        type: 'connection.rejected',
        time: at(now + i),
        ip: '127.0.0.2',
        origin: 'https://evil.example',
        reason: 'origin',
      });
    table.record({
      type: 'connection.accepted',
      time: at(now),
      connectionId: 'c1',
      ip: '127.0.0.1',
      origin: 'http://127.0.0.1:8787',
    });
    table.record({
      type: 'message.rejected',
      time: at(now + 5),
      connectionId: 'c1',
      ip: '127.0.0.1',
      reason: 'too_big',
    });
    expect(table.record({ type: 'ticket.issued', time: at(now) })).toBe(false);
    expect(table.rows().map((r) => [r.kind, r.reason, r.origin, r.count])).toEqual([
      ['frame', 'too_big', 'http://127.0.0.1:8787', 1],
      ['handshake', 'origin', 'https://evil.example', 3],
    ]);
    expect(table.rows()[1]?.lastSeen).toBe(now + 2);
  });

  it('stays bounded when every refusal sends another origin', () => {
    const table = new RefusalTable();
    for (let i = 0; i < 1000; i++)
      table.record({
        type: 'connection.rejected',
        time: at(Date.now()),
        origin: `https://x${i}.example`,
        reason: 'origin',
      });
    const rows = table.rows();
    expect(rows.length).toBe(200);
    expect(rows[0]?.origin).toBe('https://x999.example');
  });
});

describe('the traffic series', () => {
  it('counts handshakes and frames per bucket, and keeps the last 30 buckets', () => {
    let now = 1_000 * BUCKET_MS;
    const series = new TrafficSeries(() => now);
    series.sampleMessages(100);
    series.record({ type: 'connection.accepted', time: at(now) });
    series.record({ type: 'connection.rejected', time: at(now), reason: 'origin' });
    series.record({ type: 'message.rejected', time: at(now), reason: 'message_rate' });
    series.sampleMessages(130);
    now += BUCKET_MS;
    series.sampleMessages(131);
    const buckets = series.buckets();
    expect(buckets.length).toBe(30);
    expect(buckets.at(-2)).toEqual({
      at: 1_000 * BUCKET_MS,
      handshakesAccepted: 1,
      handshakesRefused: 1,
      framesAccepted: 30,
      framesRefused: 1,
    });
    expect(buckets.at(-1)?.framesAccepted).toBe(1);
    now += 40 * BUCKET_MS;
    expect(series.buckets().every((b) => b.framesAccepted === 0)).toBe(true);
  });
});

describe('the score watch', () => {
  it("lists the refused subjects' real scores, highest first, and forgets past its bound", async () => {
    const guard = createGuard({
      origins: ['https://app.example.com'],
      jwt: { algorithms: ['HS256'], secret: 'k'.repeat(40) },
      store: createMemoryStore(),
      audit: false,
    });
    const watch = new ScoreWatch();
    const refused = (ip: string): AuditEvent => ({
      type: 'connection.rejected',
      time: at(Date.now()),
      ip,
      reason: 'credentials_invalid',
    });
    // 150 refused addresses: only the last 100 are kept.
    for (let i = 0; i < 150; i++) watch.record(refused(`198.51.100.${i}`));
    // Real scores, from the guard's own violations: a forged token costs 4 points, each.
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA';
    for (const [ip, n] of [
      ['198.51.100.149', 3],
      ['198.51.100.120', 1],
      ['198.51.100.0', 2],
    ] as const)
      for (let i = 0; i < n; i++)
        await guard.upgrade({
          request: new Request('http://localhost/ws', {
            headers: { origin: 'https://app.example.com', authorization: `Bearer ${forged}` },
          }),
          ip,
        });
    await new Promise((r) => setTimeout(r, 10)); // scoring is fire and forget
    const rows = await watch.rows(guard);
    // .0 was forgotten (first of 150); the rest without a score are left out.
    expect(rows.map((r) => [r.id, Math.round(r.score)])).toEqual([
      ['198.51.100.149', 12],
      ['198.51.100.120', 4],
    ]);
    await guard.shutdown();
  });
});
