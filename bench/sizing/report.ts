/**
 * The sizing run's Markdown: per-phase costs (rates, Redis commands and CPU, instance CPU), the
 * per-command breakdown of a handshake, memory per connection, and the reconnect storm. Pure
 * formatting of what `run.ts` measured.
 *
 * @module
 */
import type { PhaseResult, ServerSample } from './phase.ts';
import type { StormResult } from './storm.ts';

/** A Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n)
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Small per-unit figures (idle commands per connection-second) need more digits. */
const fine = (n: number): string => fmt(n, Math.abs(n) < 0.1 ? 4 : 2);

const kv = (o: Record<string, number>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ') || 'none';

const sumOf = (o: Readonly<Record<string, number>>): number =>
  Object.values(o).reduce((a, v) => a + v, 0);

const per = (total: number, count: number): number => (count > 0 ? total / count : Number.NaN);

/** One row per phase: what it did, how fast, and what each unit cost. */
export function phaseTable(phases: readonly PhaseResult[]): string {
  return table(
    [
      'phase',
      'count',
      'wall (s)',
      'rate (/s)',
      'Redis commands sent / unit',
      'Redis commands executed / unit',
      'Redis CPU µs / unit',
      'instances CPU µs / unit',
      'Redis CPU (% of a core)',
      'refused by the guard',
    ],
    phases.map((p) => [
      p.name,
      `${fmt(p.count)} ${p.unit}`,
      fmt(p.ms / 1000, 1),
      p.unit === 'connection-seconds' ? '—' : fmt(per(p.count, p.ms / 1000)),
      fine(per(sumOf(p.sent), p.count)),
      fine(per(p.redis.commands, p.count)),
      fine(per(p.redis.cpuSec * 1e6, p.count)),
      fine(per(p.serverCpuMicros, p.count)),
      fmt((p.redis.cpuSec / (p.ms / 1000)) * 100, 0),
      kv(p.rejections),
    ]),
  );
}

/**
 * Per command, per handshake of each phase: sent by the instances (each one a request on the wire),
 * executed by Redis (`commandstats`, which also counts what a script runs inside Redis), and the
 * µs Redis spent on them.
 */
export function commandTable(phases: readonly PhaseResult[]): string {
  const names = new Set<string>();
  for (const p of phases) {
    for (const n of p.redis.byCommand.keys()) names.add(n);
    for (const n of Object.keys(p.sent)) names.add(n.toLowerCase());
  }
  const label = (p: PhaseResult) => p.name.replace(/^handshake, /, '');
  const head = [
    'command',
    ...phases.flatMap((p) => [`${label(p)}: sent`, 'executed', 'µs in Redis']),
  ];
  const cells = (p: PhaseResult, n: string) => {
    const c = p.redis.byCommand.get(n);
    const out = Object.entries(p.sent)
      .filter(([k]) => k.toLowerCase() === n)
      .reduce((a, [, v]) => a + v, 0);
    return [
      fmt(per(out, p.count), 2),
      fmt(per(c?.calls ?? 0, p.count), 2),
      fmt(per(c?.usec ?? 0, p.count), 1),
    ];
  };
  const rows = [...names].sort().map((n) => [n, ...phases.flatMap((p) => cells(p, n))]);
  const total = (p: PhaseResult) => {
    let calls = 0;
    let usec = 0;
    for (const c of p.redis.byCommand.values()) {
      calls += c.calls;
      usec += c.usec;
    }
    const out = Object.values(p.sent).reduce((a, v) => a + v, 0);
    return [fmt(per(out, p.count), 2), fmt(per(calls, p.count), 2), fmt(per(usec, p.count), 1)];
  };
  rows.push(['**all**', ...phases.flatMap(total)]);
  return table(head, rows);
}

const sum = (xs: readonly ServerSample[], pick: (s: ServerSample) => number): number =>
  xs.reduce((a, s) => a + pick(s), 0);
const open = (xs: readonly ServerSample[]) => sum(xs, (s) => s.open);
const heap = (s: ServerSample) => s.heapUsed + s.external;

/** Memory per open connection, after forced GCs: over the empty servers, and the second half. */
export function memoryTable(
  empty: readonly ServerSample[],
  half: readonly ServerSample[],
  full: readonly ServerSample[],
): string {
  const row = (name: string, a: readonly ServerSample[], b: readonly ServerSample[]) => {
    const n = open(b) - open(a);
    return [
      name,
      fmt(n),
      fmt(per(sum(b, (s) => s.rss) - sum(a, (s) => s.rss), n) / 1024, 1),
      fmt(per(sum(b, heap) - sum(a, heap), n) / 1024, 1),
      fmt(per(sum(b, (s) => s.heapUsed) - sum(a, (s) => s.heapUsed), n) / 1024, 1),
    ];
  };
  const instances = full.map((s, k) => [
    `instance ${k}`,
    fmt(s.open),
    fmt(s.rss / 2 ** 20, 0),
    fmt(heap(s) / 2 ** 20, 0),
    fmt((s.rss - empty[k]!.rss) / 2 ** 20, 0),
  ]);
  return [
    table(
      [
        'from → to',
        'connections added',
        'RSS KiB / conn',
        'heapUsed+external KiB / conn',
        'heapUsed KiB / conn',
      ],
      [row('empty → all open', empty, full), row('half open → all open (marginal)', half, full)],
    ),
    '',
    table(['instance', 'open', 'RSS MiB', 'heapUsed+external MiB', 'RSS growth MiB'], instances),
  ].join('\n');
}

/** The storm's figures. */
export function stormTable(s: StormResult, serverRefusals: Record<string, number>): string {
  return table(
    ['figure', 'value'],
    [
      [`connections dropped (${s.drop})`, fmt(s.dropped)],
      ['reconnected', fmt(s.reconnected)],
      [
        'time until all back',
        s.allBackMs === undefined ? 'not all back' : `${fmt(s.allBackMs / 1000, 2)} s`,
      ],
      ['connection attempts', fmt(s.attempts)],
      ['refused attempts, as the clients saw them', kv(s.clientRefusals)],
      ["refused handshakes, by the guard's reason", kv(serverRefusals)],
      ['gave up / stopped', kv(s.ended)],
      ['peak reconnects/s (1 s window)', fmt(s.peakReconnectsPerSec1s)],
      [
        'peak Redis commands/s (100 ms / 1 s window)',
        `${fmt(s.peakOpsPerSec100ms)} / ${fmt(s.peakOpsPerSec1s)}`,
      ],
      [
        'peak Redis CPU, % of a core (100 ms / 1 s window)',
        `${fmt(s.peakCpuPct100ms)} / ${fmt(s.peakCpuPct1s)}`,
      ],
    ],
  );
}
