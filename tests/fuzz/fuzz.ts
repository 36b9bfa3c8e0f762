/**
 * How much the fuzz tests run. `npm test` runs each property `FUZZ_RUNS` times (default
 * {@link DEFAULT_RUNS}: every fuzz file together well under 20 s on two shared cores); the long
 * form is `FUZZ_RUNS=20000 npm run fuzz`. Each property has a weight (its runs are
 * `FUZZ_RUNS × weight`, so a slow socket property runs fewer cases than a pure function) and a
 * time limit derived from its runs, so a loaded machine ends a property early instead of hanging:
 * it then says how many runs it managed. `FUZZ_SEED` replays a failure fast-check reported.
 */
import fc from 'fast-check';

/** Runs per property in `npm test`. */
export const DEFAULT_RUNS = 100;

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text !== undefined && text !== '' && Number.isInteger(n) && n > 0 ? n : fallback;
}

/** `FUZZ_RUNS`, or the default. */
export const FUZZ_RUNS: number = positiveInt(process.env['FUZZ_RUNS'], DEFAULT_RUNS);

/** `FUZZ_SEED`, to replay a reported failure (with its `path`, via `FUZZ_PATH`). */
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const PATH = process.env['FUZZ_PATH'];

/** JSON of a counterexample, long strings shortened (a 9 KiB token is one line, not a page). */
export function abbreviate(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'string' && v.length > 120)
      return `${v.slice(0, 40)}…<${v.length} chars>…${v.slice(-20)}`;
    if (v instanceof Uint8Array)
      return `Uint8Array[${Array.from(v.subarray(0, 64)).join(',')}${v.length > 64 ? ',…' : ''}] (${v.length} bytes)`;
    if (v === undefined) return '<undefined>';
    return v;
  });
}

/** How a property is budgeted. */
export interface Budget {
  /** Share of `FUZZ_RUNS` this property runs (at least one run). @default 1 */
  readonly weight?: number;
  /** Expected cost of one run in ms, on a loaded machine: sets the time limit. @default 2 */
  readonly msPerRun?: number;
}

/** Runs of a property with this budget. */
export function runsOf(budget: Budget = {}): number {
  return Math.max(1, Math.round(FUZZ_RUNS * (budget.weight ?? 1)));
}

/** The time limit of a property's runs, in ms (at least 5 s). */
export function timeLimitOf(budget: Budget = {}): number {
  return Math.max(5000, runsOf(budget) * (budget.msPerRun ?? 2));
}

/** The vitest timeout for a test running one property: its time limit plus room to shrink. */
export function timeoutOf(budget: Budget = {}): number {
  return timeLimitOf(budget) + 15_000;
}

/**
 * Check `property` within its budget. A failure throws fast-check's report (seed, path, the
 * shrunk counterexample); running out of time passes with the runs done, said on the console.
 */
export async function fuzz<T>(
  name: string,
  property: fc.IProperty<T> | fc.IAsyncProperty<T>,
  budget: Budget = {},
): Promise<void> {
  const numRuns = runsOf(budget);
  const details = await fc.check(property as fc.IAsyncProperty<T>, {
    numRuns,
    interruptAfterTimeLimit: timeLimitOf(budget),
    ...(SEED !== undefined && Number.isFinite(SEED) ? { seed: SEED } : {}),
    ...(PATH !== undefined ? { path: PATH } : {}),
  });
  if (details.failed) {
    const error = details.errorInstance;
    throw new Error(
      `${name}: property failed after ${details.numRuns} runs ` +
        `(replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath})\n` +
        `counterexample: ${abbreviate(details.counterexample)}\n` +
        `error: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (details.interrupted)
    console.info(`[fuzz] ${name}: time limit reached after ${details.numRuns}/${numRuns} runs`);
}
