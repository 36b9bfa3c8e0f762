/**
 * The soak's verdicts, shared by the short form (`tests/soak/soak.test.ts`) and the long form
 * (`bench/soak/run.ts`): every counter, cap and lease back to zero; no connection or peer object
 * left reachable except what the runtime itself is known to keep (`known.ts`); every client ended
 * the way its kind allows; and memory growth from the second quarter of the rounds to the last
 * within bounds, each justified below.
 *
 * @module
 */
import { figures, type MemoryFigures, mib } from './analysis.ts';
import type { SoakResult } from './driver.ts';
import type { RuntimeProfile } from './known.ts';

const MiB = 2 ** 20;

/** Memory bounds on the growth from the second quarter to the last (medians), bytes. */
export interface MemoryBounds {
  /** Heap used after a forced GC: the precise figure, for leaks of JS objects. */
  readonly heap: number;
  /**
   * RSS minus the heap's committed size: memory outside the JS heap (sockets, buffers, the
   * runtime's own allocations), without the heap's reservation steps.
   */
  readonly native: number;
  /** RSS as the operating system counts it. */
  readonly rss: number;
}

/**
 * Bounds for the short form (1,000 measured cycles and 50,000 frames after 750 and 37,500 of
 * warm-up; 500 cycles between the two quarters' medians). Measured growth (docs/soak.md): heap
 * +0.2–0.3 MiB on every runtime, native and RSS −0.4 to +2.6 MiB (Bun's RSS moves ±5 MiB from
 * sample to sample).
 *
 * What a leak costs, measured with the server's leak switches (`SOAK_LEAK*`): 8 KiB of heap kept
 * per socket, or every connection object kept, gives more than +3 MiB of heap (and every kind
 * reachable); a socket the runtime never frees costs ~28 KiB outside the heap (Deno,
 * `deno-upgrade-leak.ts`), 14 MiB for 500 cycles. So: heap 2 MiB catches a per-connection leak
 * from ~5 KiB (the reachability check catches any connection or peer object kept, whatever its
 * size); native 8 MiB catches a leaked socket per cycle with room for Bun's noise.
 *
 * RSS is native plus the heap's committed size, so beyond those two it sees only V8 resizing its
 * heap, which is not a leak: a CI run on two busy cores (2026-12-03) had Deno's RSS +14.1 MiB with
 * heap and native both within their bounds. RSS gets the long form's 16 MiB, and its detail names
 * the committed heap's share, so a failure says which part grew.
 */
export const SHORT_BOUNDS: Readonly<Record<'node' | 'bun' | 'deno', MemoryBounds>> = {
  node: { heap: 2 * MiB, native: 8 * MiB, rss: 16 * MiB },
  bun: { heap: 2 * MiB, native: 8 * MiB, rss: 16 * MiB },
  deno: { heap: 2 * MiB, native: 8 * MiB, rss: 16 * MiB },
};

/**
 * Bounds for the long form (10,000 cycles, 1,000,000 frames; 5,000 cycles between the medians).
 * Measured: heap +0.7 MiB on Node (the timer lists: fixed in src/state/deadlines.ts, then +0.3), under
 * +1.3 MiB elsewhere; RSS and native under +3 MiB. 2 MiB of heap over 5,000 cycles is ~400 B a
 * cycle: a leaked store key (180–420 B, tests/unit/store/memory-bounds.test.ts) per cycle shows.
 */
export const LONG_BOUNDS: MemoryBounds = { heap: 2 * MiB, native: 8 * MiB, rss: 16 * MiB };

/** One verdict. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Every verdict on `result`. */
export function checks(
  result: SoakResult,
  profile: RuntimeProfile,
  bounds: MemoryBounds,
): { readonly checks: readonly Check[]; readonly memory: MemoryFigures } {
  const f = result.final;
  const memory = figures(result);
  const lingering = new Set(Object.keys(profile.lingering));
  const unknownKeep = (byKind: Record<string, number>) =>
    Object.entries(byKind).filter(([k]) => !lingering.has(k));
  const out: Check[] = [
    check(
      'connections back to zero',
      f.connections === 0 && f.users === 0,
      `${f.connections} connections, ${f.users} users`,
    ),
    check('app sockets back to zero', f.appOpen === 0, `${f.appOpen} open`),
    check(
      'leases back to zero',
      f.leases.ip === 0 && f.leases.user === 0,
      `${f.leases.ip} IP, ${f.leases.user} user ${f.leases.keys.join(' ')}`,
    ),
    check(
      'no connection object reachable',
      unknownKeep(f.retainedByKind).length === 0,
      JSON.stringify(f.retainedByKind),
    ),
    check(
      'no peer object reachable',
      unknownKeep(f.retainedPeersByKind).length === 0,
      JSON.stringify(f.retainedPeersByKind),
    ),
    // What the runtime keeps is bounded by what made it: at most one object per such cycle.
    check(
      'kept objects bounded by their cycles',
      [...lingering].every(
        (k) =>
          (f.retainedByKind[k] ?? 0) <=
          Object.values(result.cycles.outcomes[k] ?? {}).reduce((a, b) => a + b, 0),
      ),
      [...lingering].map((k) => `${k}: ${f.retainedByKind[k] ?? 0}`).join(', ') || 'none',
    ),
    // The lease count can see leases at all: while the rounds run, the streams hold theirs.
    check(
      'live leases counted during the run',
      result.samples
        .filter((s) => s.round >= 0 && s.round < result.plan.rounds)
        .every((s) => s.leases.ip >= result.plan.streams && s.leases.user >= result.plan.streams),
      `at least ${result.plan.streams} IP and user leases in every round`,
    ),
    check('no hook or store errors', Object.keys(f.errors).length === 0, JSON.stringify(f.errors)),
    check(
      'every client ended as its kind allows',
      result.unexpected.length === 0,
      result.unexpected.join('; '),
    ),
    check(
      'good streams never refused',
      result.streamFailures.length === 0,
      result.streamFailures.slice(0, 5).join('; '),
    ),
    check(
      'the whole plan ran',
      result.frames.sent >= result.totals.frames && result.cycles.done === result.totals.cycles,
      `${result.cycles.done} cycles, ${result.frames.sent} frames`,
    ),
    within('heap growth Q2→Q4', memory.heapGrowth, bounds.heap),
    within('native growth Q2→Q4', memory.nativeGrowth, bounds.native),
    within(
      'RSS growth Q2→Q4',
      memory.rssGrowth,
      bounds.rss,
      `native ${mib(memory.nativeGrowth)}, heap committed ${mib(memory.rssGrowth - memory.nativeGrowth)}`,
    ),
  ];
  return { checks: out, memory };
}

function check(name: string, ok: boolean, detail: string): Check {
  return { name, ok, detail };
}

function within(name: string, value: number, bound: number, parts?: string): Check {
  const of = parts ? `; of it ${parts} MiB` : '';
  return check(name, value < bound, `${mib(value)} MiB (bound ${mib(bound)}${of})`);
}
