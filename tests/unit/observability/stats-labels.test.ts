/**
 * Every label of every metric takes its value from a fixed set, whatever the counters are fed:
 * close codes from anyone, and reasons that are not in the contract (a caller's cast, a plugin's
 * typo) cannot create series.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode, MESSAGE_CLOSE_CODES, REJECTIONS } from '../../../src/core/codes.ts';
import { Stats } from '../../../src/observability/stats.ts';

/** The label values per metric name in a Prometheus text. */
function labels(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)(\{[^}]*\})? /.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const set = out.get(m[1]!) ?? new Set<string>();
    set.add(m[2] ?? '');
    out.set(m[1]!, set);
  }
  return out;
}

describe('bounded metric labels', () => {
  it('client and app close codes land in at most 8 classes each, whatever the code', () => {
    const stats = new Stats();
    for (let code = 0; code <= 70_000; code++) {
      stats.closedWith(code, 'client');
      stats.closedWith(code, 'app');
    }
    stats.closedWith(Number.NaN, 'client');
    stats.closedWith(-1, 'client');
    stats.closedWith(1e21, 'app');
    const l = labels(stats.prometheus());
    expect(l.get('wsguard_client_closes_total')?.size).toBeLessThanOrEqual(8);
    expect(l.get('wsguard_app_closes_total')?.size).toBeLessThanOrEqual(8);
    expect(l.has('wsguard_closes_total')).toBe(false);
    const snap = stats.snapshot();
    expect(snap.closes).toEqual({});
    expect(snap.clientCloses).toMatchObject({
      normal: 1,
      going_away: 1,
      no_status: 1,
      abnormal: 1,
      registered: 1000,
      private: 1000,
    });
  });

  it('the guard’s closes keep their code only for codes of the contract table; others are "other"', () => {
    const stats = new Stats();
    for (let code = 0; code <= 70_000; code++) stats.closedWith(code, 'guard');
    const allowed = new Set<string>([
      ...Object.values(CloseCode).map(String),
      // What a runtime sends when it refuses a frame for the guard (see runtime-violation.ts).
      '1002',
      '1006',
      '1007',
      'other',
    ]);
    const seen = [...(labels(stats.prometheus()).get('wsguard_closes_total') ?? [])].map(
      (s) => /code="([^"]*)"/.exec(s)?.[1] ?? '',
    );
    expect(seen.length).toBeGreaterThan(1);
    for (const v of seen) expect(allowed.has(v), v).toBe(true);
    expect(stats.snapshot().closes['4030']).toBe(1);
    expect(stats.snapshot().closes['other']).toBe(70_001 - seen.length + 1);
  });

  it('reasons outside the contract are counted as "other", never as a new series', () => {
    const stats = new Stats();
    for (let i = 0; i < 1000; i++) {
      // A caller outside the type system (JavaScript, a cast) passing what a client chose.
      stats.rejected(`evil"\n${i}` as never);
      stats.messageRejected(`x${i}` as never);
    }
    stats.rejected('__proto__' as never);
    stats.messageRejected('constructor' as never);
    for (const reason of Object.keys(REJECTIONS)) stats.rejected(reason as never);
    for (const reason of [...Object.keys(MESSAGE_CLOSE_CODES), 'protocol'])
      stats.messageRejected(reason as never);
    const l = labels(stats.prometheus());
    expect(l.get('wsguard_upgrades_rejected_total')?.size).toBe(Object.keys(REJECTIONS).length + 1);
    expect(l.get('wsguard_messages_rejected_total')?.size).toBe(
      Object.keys(MESSAGE_CLOSE_CODES).length + 2,
    );
    expect(stats.snapshot().rejections['other']).toBe(1001);
    expect(stats.snapshot().messageRejections['other']).toBe(1001);
    // Every metric: every label value from a fixed set, so the series count is bounded.
    let total = 0;
    for (const set of l.values()) total += set.size;
    expect(total).toBeLessThan(80);
  });
});
