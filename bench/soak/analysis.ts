/**
 * What a soak's samples say about memory: start, peak and end, and the growth from the second
 * quarter of the rounds to the last (median against median, so one late collection or one
 * allocator hiccup does not decide it). The first quarter is the warm-up: JIT code, the address
 * pools' rate states, scores and bans appearing in the store, buffers and pools reaching their
 * working size.
 *
 * @module
 */
import type { Sample, SoakResult } from './driver.ts';

/** Memory figures of one run, bytes. */
export interface MemoryFigures {
  readonly rssStart: number;
  readonly rssPeak: number;
  readonly rssEnd: number;
  readonly heapStart: number;
  readonly heapPeak: number;
  readonly heapEnd: number;
  /** Median RSS of the last quarter's rounds minus the second quarter's. */
  readonly rssGrowth: number;
  /** Median heap used (after GC) of the last quarter's rounds minus the second quarter's. */
  readonly heapGrowth: number;
  /** The same for RSS minus the heap's committed size (memory outside the JS heap). */
  readonly nativeGrowth: number;
  /** Cycles between the two quarters' midpoints (half the run), for a per-cycle reading. */
  readonly cyclesBetween: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Memory outside the JS heap: RSS minus the heap's committed size. */
export const native = (s: Sample): number => s.rss - s.heapTotal;

/** The rounds' samples in quarter `q` (0..3) of `rounds`. */
export function quarter(samples: readonly Sample[], rounds: number, q: number): Sample[] {
  const from = Math.floor((rounds * q) / 4);
  const to = Math.floor((rounds * (q + 1)) / 4);
  return samples.filter((s) => s.round >= from && s.round < to);
}

/** The memory figures of `result`. */
export function figures(result: SoakResult): MemoryFigures {
  const { samples, plan } = result;
  const q2 = quarter(samples, plan.rounds, 1);
  const q4 = quarter(samples, plan.rounds, 3);
  if (q2.length === 0 || q4.length === 0) throw new Error('too few rounds for quarters');
  const first = samples[0]!;
  const last = samples.at(-1)!;
  return {
    rssStart: first.rss,
    rssPeak: Math.max(...samples.map((s) => s.rss)),
    rssEnd: last.rss,
    heapStart: first.heapUsed,
    heapPeak: Math.max(...samples.map((s) => s.heapUsed)),
    heapEnd: last.heapUsed,
    rssGrowth: median(q4.map((s) => s.rss)) - median(q2.map((s) => s.rss)),
    heapGrowth: median(q4.map((s) => s.heapUsed)) - median(q2.map((s) => s.heapUsed)),
    nativeGrowth: median(q4.map(native)) - median(q2.map(native)),
    cyclesBetween: Math.round(plan.cycles / 2),
  };
}

/** `n` bytes as MiB with one decimal. */
export const mib = (n: number): string => (n / 2 ** 20).toFixed(1);

const signed = (n: number): string => `${n >= 0 ? '+' : ''}${mib(n)}`;

/** One markdown table row of a run's figures. */
export function row(result: SoakResult): string {
  const f = figures(result);
  const s = result.final.stats;
  return `| ${[
    result.runtime,
    `${(result.workMs / 1000).toFixed(1)} s`,
    `${mib(f.rssStart)} / ${mib(f.rssPeak)} / ${mib(f.rssEnd)}`,
    `${mib(f.heapStart)} / ${mib(f.heapPeak)} / ${mib(f.heapEnd)}`,
    signed(f.rssGrowth),
    signed(f.heapGrowth),
    signed(f.nativeGrowth),
    `${s.accepted} / ${s.bans}`,
    `${result.final.connections} / ${result.final.appOpen} / ${result.final.leases.ip + result.final.leases.user} / ${result.final.retainedConnections}`,
  ].join(' | ')} |`;
}

/** The header of {@link row}'s table. */
export const ROW_HEADER: string = [
  '| runtime | work | RSS MiB start / peak / end | heap MiB start / peak / end | RSS Q2→Q4 | heap Q2→Q4 | native Q2→Q4 | accepted / bans | at end: connections / app sockets / leases / connections reachable |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
].join('\n');
