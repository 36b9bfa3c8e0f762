/**
 * A small side-by-side benchmark harness. The cases of one comparison run interleaved: after a
 * warm-up, every round gives each case a time slice, in an order that rotates from round to round,
 * so drift on a shared machine (other processes, thermal limits, GC debt) falls on all cases
 * alike. Each round yields one rate per case and one ratio per case against the baseline; the
 * table reports the medians and the spread of the per-round ratios.
 *
 * Timing uses `performance.now()`, which Node, Deno and Bun all provide, so the same files can be
 * run on each runtime. Each timed chunk lasts about `chunkMs`, far above the timer's resolution.
 *
 * @module
 */

/** One measured operation, run in batches. */
export interface BenchCase {
  /** Row label. */
  readonly name: string;
  /** Run `n` operations back to back; sync or async. Only this is timed. */
  readonly run: (n: number) => void | Promise<void>;
  /** Untimed setup before each timed chunk of `n` operations (e.g. issue `n` tickets). */
  readonly before?: (n: number) => void | Promise<void>;
  /** Untimed cleanup after each timed chunk (e.g. close the connections it opened). */
  readonly after?: () => void | Promise<void>;
  /** Checked once at the end: throw if the case did not do what its name says. */
  readonly verify?: () => void;
  /**
   * Name of another case of the comparison this one is paired with (the same case on the code
   * before a change): the table then also shows this case's rate ÷ that case's, round by round.
   */
  readonly against?: string;
}

/** Cases measured against each other in one interleaved run. */
export interface Comparison {
  /** Table heading. */
  readonly title: string;
  /** Name of the case the ratios are computed against. */
  readonly baseline: string;
  /** The cases, baseline included. */
  readonly cases: readonly BenchCase[];
  /** Heading of the paired-ratio column (cases with `against`); default "÷ paired row". */
  readonly pairLabel?: string;
}

/** Timing budget. */
export interface BenchOptions {
  /** Measured time per case, summed over rounds. */
  readonly timeMs: number;
  /** Warm-up time per case before measuring. */
  readonly warmupMs: number;
  /** Number of interleaved rounds. */
  readonly rounds: number;
  /** Target duration of one timed chunk. */
  readonly chunkMs: number;
}

/** One case's outcome. */
export interface CaseResult {
  /** Row label. */
  readonly name: string;
  /** Median over rounds of operations per second. */
  readonly opsPerSec: number;
  /** Median over rounds of this case's rate divided by the baseline's rate in the same round. */
  readonly ratio: number;
  /** Lowest and highest per-round ratio. */
  readonly ratioRange: readonly [number, number];
  /** Relative spread of the per-round rates: (max - min) / median. */
  readonly spread: number;
  /** Operations measured. */
  readonly ops: number;
  /** With `BenchCase.against`: this rate ÷ the paired case's, median and range over rounds. */
  readonly paired?: { readonly name: string; readonly ratio: number; readonly range: RatioRange };
}

/** Lowest and highest of a set of ratios. */
type RatioRange = readonly [number, number];

/** A comparison's outcome. */
export interface ComparisonResult {
  /** Table heading. */
  readonly title: string;
  /** Baseline name. */
  readonly baseline: string;
  /** Rows, in the order the cases were given. */
  readonly results: readonly CaseResult[];
  /** Heading of the paired-ratio column, if any case is paired. */
  readonly pairLabel?: string;
}

/** Budget from the environment: `BENCH_TIME_MS` (per case, default 1500), `BENCH_ROUNDS`. */
export function optionsFromEnv(): BenchOptions {
  const env = (name: string): number | undefined => {
    const raw = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
      ?.env[name];
    const n = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const timeMs = env('BENCH_TIME_MS') ?? 1500;
  return {
    timeMs,
    warmupMs: Math.max(100, Math.round(timeMs / 5)),
    rounds: env('BENCH_ROUNDS') ?? 10,
    chunkMs: 5,
  };
}

async function timedChunk(c: BenchCase, n: number): Promise<number> {
  if (c.before) await c.before(n);
  const start = performance.now();
  const r = c.run(n);
  if (r instanceof Promise) await r;
  const elapsed = performance.now() - start;
  if (c.after) await c.after();
  return elapsed;
}

/** Run `c` in chunks for about `ms`; returns operations and milliseconds measured. */
async function slice(c: BenchCase, n: number, ms: number): Promise<{ ops: number; ms: number }> {
  let ops = 0;
  let elapsed = 0;
  do {
    elapsed += await timedChunk(c, n);
    ops += n;
  } while (elapsed < ms);
  return { ops, ms: elapsed };
}

/** Grow `n` until one chunk takes about `chunkMs`. */
async function calibrate(c: BenchCase, chunkMs: number): Promise<number> {
  let n = 1;
  for (;;) {
    const t = await timedChunk(c, n);
    if (t >= chunkMs / 4 || n >= 1 << 24) return Math.max(1, Math.round((n * chunkMs) / t));
    n *= 2;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Per-round ratios of `own` against `ref` (same round), as median and range. */
function roundRatios(own: readonly number[], ref: readonly number[]): [number, RatioRange] {
  const ratios = own.map((x, r) => x / ref[r]!);
  return [median(ratios), [Math.min(...ratios), Math.max(...ratios)]];
}

/** Measure a comparison. */
export async function compare(cmp: Comparison, opts: BenchOptions): Promise<ComparisonResult> {
  const cases = cmp.cases;
  const index = (name: string): number => {
    const i = cases.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`${cmp.title}: no case named ${name}`);
    return i;
  };
  const baseIndex = index(cmp.baseline);
  const pairIndex = cases.map((c) => (c.against === undefined ? -1 : index(c.against)));
  // Warm up every case (interleaved too), then size the chunks from warm code.
  const sizes = cases.map(() => 1);
  for (let i = 0; i < cases.length; i++) sizes[i] = await calibrate(cases[i]!, opts.chunkMs);
  for (let i = 0; i < cases.length; i++) await slice(cases[i]!, sizes[i]!, opts.warmupMs);
  for (let i = 0; i < cases.length; i++) sizes[i] = await calibrate(cases[i]!, opts.chunkMs);

  const rates: number[][] = cases.map(() => []);
  const ops = cases.map(() => 0);
  const sliceMs = opts.timeMs / opts.rounds;
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (r + k) % cases.length;
      const s = await slice(cases[i]!, sizes[i]!, sliceMs);
      rates[i]!.push((s.ops * 1000) / s.ms);
      ops[i]! += s.ops;
    }
  }
  for (const c of cases) c.verify?.();

  const base = rates[baseIndex]!;
  return {
    title: cmp.title,
    baseline: cmp.baseline,
    ...(cmp.pairLabel === undefined ? {} : { pairLabel: cmp.pairLabel }),
    results: cases.map((c, i) => {
      const own = rates[i]!;
      const [ratio, ratioRange] = roundRatios(own, base);
      const med = median(own);
      const j = pairIndex[i]!;
      const result: CaseResult = {
        name: c.name,
        opsPerSec: med,
        ratio,
        ratioRange,
        spread: (Math.max(...own) - Math.min(...own)) / med,
        ops: ops[i]!,
      };
      if (j < 0) return result;
      const [pairRatio, range] = roundRatios(own, rates[j]!);
      return { ...result, paired: { name: cases[j]!.name, ratio: pairRatio, range } };
    }),
  };
}

function formatOps(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function formatRatio(x: number): string {
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

const formatRange = (range: RatioRange): string =>
  `${formatRatio(range[0])}–${formatRatio(range[1])}`;

/**
 * A markdown table for one comparison; with paired cases (`BenchCase.against`), two more columns:
 * each paired row's rate ÷ its partner's (median, and range over rounds).
 */
export function toMarkdown(result: ComparisonResult): string {
  const pairs = result.results.some((r) => r.paired);
  const lines = [
    `### ${result.title}`,
    '',
    `| case | ops/s (median) | round spread | × baseline (median) | ratio range |${
      pairs ? ` ${result.pairLabel ?? '÷ paired row'} (median) | paired range |` : ''
    }`,
    `| --- | ---: | ---: | ---: | ---: |${pairs ? ' ---: | ---: |' : ''}`,
  ];
  for (const r of result.results) {
    const isBase = r.name === result.baseline;
    const paired = r.paired
      ? ` ${formatRatio(r.paired.ratio)} | ${formatRange(r.paired.range)} |`
      : ' – | – |';
    lines.push(
      `| ${r.name} | ${formatOps(r.opsPerSec)} | ±${((r.spread * 100) / 2).toFixed(0)}% | ${
        isBase ? '**1** (baseline)' : formatRatio(r.ratio)
      } | ${isBase ? '–' : formatRange(r.ratioRange)} |${pairs ? paired : ''}`,
    );
  }
  return lines.join('\n');
}

/** Run comparisons in sequence, printing each table as it completes. */
export async function runAll(
  comparisons: readonly Comparison[],
  opts: BenchOptions = optionsFromEnv(),
): Promise<ComparisonResult[]> {
  const out: ComparisonResult[] = [];
  for (const cmp of comparisons) {
    const result = await compare(cmp, opts);
    out.push(result);
    console.log(`${toMarkdown(result)}\n`);
  }
  return out;
}

/** Keeps results observable so the optimiser cannot drop the measured work. */
export const sink: { value: unknown } = { value: undefined };
