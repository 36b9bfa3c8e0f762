/**
 * The soak's memory chart as an SVG written by hand (no plotting dependency): two panels, RSS and
 * heap used after a forced GC, one line per runtime over the share of the work done, with the
 * second and last quarters (the ones compared) shaded, and the settled state after every client
 * closed as a last, dashed step.
 *
 * @module
 */
import type { SoakResult } from './driver.ts';

const COLORS: Record<string, string> = { node: '#3c873a', bun: '#c2410c', deno: '#1d4ed8' };
const W = 900;
const PANEL_H = 250;
const M = { left: 64, right: 150, top: 44, bottom: 40 };
const GAP = 36;
const MiB = 2 ** 20;

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" step for about `n` ticks over `span`. */
function step(span: number, n: number): number {
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

/**
 * x of a sample, in measured work: 0 after the warm-up, 1 after the last round, SETTLED once settled;
 * warm-up rounds are negative.
 */
function xOf(round: number, rounds: number): number {
  return round >= rounds ? SETTLED : (round + 1) / rounds;
}

/** Where the settled state is drawn, past the end of the work. */
const SETTLED = 1.12;
/** The least vertical distance between two end labels, px. */
const LABEL_GAP = 15;

/** Label positions at `ys`, pushed apart to LABEL_GAP, in the same order. */
function spread(ys: readonly number[]): number[] {
  const order = ys.map((y, i) => [y, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(ys.length);
  let prev = Number.NEGATIVE_INFINITY;
  for (const [y, i] of order) {
    prev = Math.max(y, prev + LABEL_GAP);
    out[i] = prev;
  }
  return out;
}

function panel(
  results: readonly SoakResult[],
  top: number,
  title: string,
  value: (s: SoakResult['samples'][number]) => number,
): string {
  const plotW = W - M.left - M.right;
  const warm = Math.max(0, ...results.map((r) => r.plan.warmupRounds / r.plan.rounds));
  const all = results.flatMap((r) => r.samples.map(value));
  const max = Math.max(...all) / MiB;
  const min = Math.min(...all) / MiB;
  const st = step(max - min || 1, 5);
  const lo = Math.floor(min / st) * st;
  const hi = Math.ceil(max / st) * st;
  const y = (v: number) => top + PANEL_H - ((v / MiB - lo) / (hi - lo)) * PANEL_H;
  const x = (f: number) => M.left + ((f + warm) / (SETTLED + warm)) * plotW;
  const parts: string[] = [];
  if (warm > 0)
    parts.push(
      `<text x="${((x(-warm) + x(0)) / 2).toFixed(1)}" y="${top + 14}" text-anchor="middle" class="q">warm-up</text>`,
      `<line x1="${x(0).toFixed(1)}" x2="${x(0).toFixed(1)}" y1="${top}" y2="${top + PANEL_H}" stroke="#cbd5e1" stroke-dasharray="3 3"/>`,
    );
  // The quarters compared: the second (after the warm-up) and the last.
  for (const [from, to, label] of [
    [0.25, 0.5, 'Q2'],
    [0.75, 1, 'Q4'],
  ] as const) {
    parts.push(
      `<rect x="${x(from).toFixed(1)}" y="${top}" width="${(x(to) - x(from)).toFixed(1)}" height="${PANEL_H}" fill="#f1f5f9"/>`,
      `<text x="${((x(from) + x(to)) / 2).toFixed(1)}" y="${top + 14}" text-anchor="middle" class="q">${label}</text>`,
    );
  }
  for (let v = lo; v <= hi + 1e-9; v += st) {
    const yy = y(v * MiB).toFixed(1);
    parts.push(
      `<line x1="${M.left}" x2="${M.left + plotW}" y1="${yy}" y2="${yy}" class="grid"/>`,
      `<text x="${M.left - 8}" y="${yy}" dy="4" text-anchor="end" class="tick">${Number(v.toFixed(1))}</text>`,
    );
  }
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<text x="${x(f).toFixed(1)}" y="${top + PANEL_H + 18}" text-anchor="middle" class="tick">${f * 100}%</text>`,
    );
  }
  parts.push(
    `<text x="${x(SETTLED).toFixed(1)}" y="${top + PANEL_H + 18}" text-anchor="middle" class="tick">settled</text>`,
    `<text x="${M.left}" y="${top - 10}" class="title">${esc(title)}</text>`,
    `<rect x="${M.left}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#94a3b8"/>`,
  );
  const ends = results.map((r) => {
    const last = r.samples.at(-1);
    return last ? value(last) : 0;
  });
  const labelYs = spread(ends.map((v) => y(v)));
  for (const [ri, r] of results.entries()) {
    const color = COLORS[r.runtime] ?? '#555';
    const rounds = r.plan.rounds;
    const live = r.samples.filter((s) => s.round < rounds);
    const settled = r.samples.find((s) => s.round >= rounds);
    const points = live.map(
      (s) => `${x(xOf(s.round, rounds)).toFixed(1)},${y(value(s)).toFixed(1)}`,
    );
    parts.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    if (settled) {
      const last = live.at(-1)!;
      parts.push(
        `<line x1="${x(xOf(last.round, rounds)).toFixed(1)}" y1="${y(value(last)).toFixed(1)}" x2="${x(SETTLED).toFixed(1)}" y2="${y(value(settled)).toFixed(1)}" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`,
        `<circle cx="${x(SETTLED).toFixed(1)}" cy="${y(value(settled)).toFixed(1)}" r="3" fill="${color}"/>`,
      );
    }
    parts.push(
      `<text x="${(x(SETTLED) + 10).toFixed(1)}" y="${labelYs[ri]!.toFixed(1)}" dy="4" class="label" fill="${color}">${r.runtime} ${(ends[ri]! / MiB).toFixed(1)}</text>`,
    );
  }
  return parts.join('\n');
}

/** The SVG for `results` (one per runtime); `subtitle` says what ran (plan, date, machine). */
export function memoryChart(results: readonly SoakResult[], subtitle: string): string {
  const H = M.top + 2 * PANEL_H + GAP + M.bottom + 44;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" role="img">`,
    `<title>wsguard soak: RSS and heap per runtime over the run (${esc(subtitle)})</title>`,
    '<style>.grid{stroke:#e2e8f0}.tick{font-size:11px;fill:#475569}.title{font-size:13px;font-weight:600;fill:#0f172a}.q{font-size:11px;fill:#64748b}.label{font-size:12px;font-weight:600}.sub{font-size:12px;fill:#334155}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="20" class="title">wsguard soak: memory per runtime (MiB)</text>`,
    `<text x="${M.left}" y="36" class="sub">${esc(subtitle)}</text>`,
    panel(results, M.top + 20, 'RSS', (s) => s.rss),
    panel(
      results,
      M.top + 20 + PANEL_H + GAP + 20,
      'Heap used after a forced GC',
      (s) => s.heapUsed,
    ),
    `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 6}" text-anchor="middle" class="tick">share of the work done (cycles and frames, in ${results[0]?.plan.rounds ?? 0} rounds; one sample after each)</text>`,
    '</svg>',
    '',
  ].join('\n');
}
