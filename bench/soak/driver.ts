/**
 * The soak's driver: one run against one soak server (see `soak-server.ts`). The work is cut in
 * `plan.rounds` equal rounds; each runs its share of the cycles (`plan.concurrency` at a time, see
 * `cycles.ts`), of the good streams' frames and of the hostile frame sessions (see `frames.ts`)
 * side by side, then takes a memory sample after a forced GC. After the last round every stream is
 * closed, the driver waits (bounded) for the server to hold nothing, and reads the final state.
 *
 * Loopback only; every loop bounded in count (rounds, sessions per round) and in time.
 *
 * @module
 */
import { closeAgent, makeTokens } from './clients.ts';
import { ALLOWED, type CycleContext, type CycleKind, ROTATION, runCycle } from './cycles.ts';
import {
  ATTACK_ALLOWED,
  type FrameAttack,
  type GoodStream,
  makeAttacker,
  openStream,
} from './frames.ts';
import { ALL_USERS, IPS, type SoakPlan, USERS } from './plan.ts';

/** One memory sample, as `/admin/sample` answers it, with the driver's progress. */
export interface Sample {
  /**
   * The round just finished: negative for warm-up rounds (the first sample, before any work, is
   * `-warmupRounds - 1`), `0 … rounds - 1` for measured ones, `rounds` for the final one.
   */
  readonly round: number;
  /** Milliseconds since the run started. */
  readonly elapsedMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly connections: number;
  readonly users: number;
  readonly appOpen: number;
  readonly accepted: number;
  /** Accepted connections whose object is still reachable after a full GC. */
  readonly retainedConnections: number;
  /** The same by the kind of client (cycle kind, `stream`, or attack). */
  readonly retainedByKind: Record<string, number>;
  readonly peers: number;
  readonly retainedPeers: number;
  readonly retainedPeersByKind: Record<string, number>;
  readonly leaked: number;
  readonly leases: { readonly ip: number; readonly user: number; readonly keys: readonly string[] };
  readonly gc: boolean;
}

/** What `/admin/final` adds. */
export interface Final extends Sample {
  readonly stats: {
    readonly connections: number;
    readonly users: number;
    readonly accepted: number;
    readonly messages: number;
    readonly bans: number;
    readonly rejections: Record<string, number>;
    readonly messageRejections: Record<string, number>;
    readonly closes: Record<string, number>;
  };
  readonly audit: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly resources?: Record<string, number>;
}

/** Outcomes by kind: `kind → outcome → count`. */
export type Outcomes = Record<string, Record<string, number>>;

/** The result of one run. */
export interface SoakResult {
  readonly runtime: string;
  readonly plan: SoakPlan;
  /** The rounds alone (the work), ms. */
  readonly workMs: number;
  /** From the first sample to the final one (closing and settling included), ms. */
  readonly totalMs: number;
  readonly samples: readonly Sample[];
  readonly final: Final;
  /** Cycles and frames the run was to make, warm-up included. */
  readonly totals: { readonly cycles: number; readonly frames: number };
  readonly cycles: { readonly done: number; readonly outcomes: Outcomes };
  readonly frames: {
    /** Every frame written: good streams' and hostile sessions'. */
    readonly sent: number;
    readonly good: number;
    readonly echoed: number;
    readonly hostile: number;
    readonly outcomes: Outcomes;
  };
  /** Outcomes outside what their kind allows (must be empty). */
  readonly unexpected: readonly string[];
  /** How the good streams ended other than by our own close (must be empty). */
  readonly streamFailures: readonly string[];
}

const get = async <T>(url: string): Promise<T> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
};

const bump = (o: Outcomes, kind: string, outcome: string): void => {
  const k = o[kind] ?? {};
  o[kind] = k;
  k[outcome] = (k[outcome] ?? 0) + 1;
};

/** Share `total` into `parts` integers that sum to it. */
const share = (total: number, parts: number, i: number): number =>
  Math.floor((total * (i + 1)) / parts) - Math.floor((total * i) / parts);

/** Options of {@link soak}. */
export interface SoakOptions {
  /** Progress lines (one per round). */
  readonly log?: (line: string) => void;
  /**
   * Kinds whose objects the runtime is known to keep after the run (see docs/soak.md): the final
   * wait does not wait for them.
   */
  readonly lingering?: readonly string[];
  /**
   * How long the final wait may take for the server to hold nothing (connections, app sockets,
   * leases, reachable objects outside `lingering`).
   * @default 20000
   */
  readonly settleMs?: number;
  /** Outcomes an attack may also end with on this runtime (see `known.ts`). */
  readonly allow?: Readonly<Record<string, { readonly outcomes: readonly string[] }>>;
  /** Cycle kinds to leave out (for an investigation: does the curve flatten without them?). */
  readonly exclude?: readonly CycleKind[];
  /**
   * Rounds after which the server writes a heap snapshot (`round-<n>`; the server needs
   * `SOAK_SNAPSHOTS`), for comparing two points of a run.
   */
  readonly snapshots?: readonly number[];
}

/** Run `plan` against the server at `base` (`http://127.0.0.1:PORT`). */
export async function soak(
  runtime: string,
  base: string,
  plan: SoakPlan,
  options: SoakOptions = {},
): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const lingering = new Set(options.lingering ?? []);
  const excluded = new Set(options.exclude ?? []);
  const tokens = await makeTokens(ALL_USERS);
  const cycleOutcomes: Outcomes = {};
  const frameOutcomes: Outcomes = {};
  const samples: Sample[] = [];
  const background = new Set<Promise<unknown>>();
  const ctx: CycleContext = {
    base,
    tokens,
    background,
    record: (kind, outcome) => bump(cycleOutcomes, kind, outcome),
  };
  const attacker = makeAttacker(base, tokens, plan.floodFrames);
  const t0 = Date.now();
  const sample = async (round: number) => {
    const s = await get<Sample>(`${base}/admin/sample`);
    samples.push({ ...s, round, elapsedMs: Date.now() - t0 });
  };

  // Warm-up rounds come first, the same size as the measured ones.
  const R = plan.warmupRounds + plan.rounds;
  const C = Math.round((plan.cycles * R) / plan.rounds);
  const F = Math.round((plan.frames * R) / plan.rounds);
  await sample(-plan.warmupRounds - 1);
  const streams: GoodStream[] = [];
  const openOne = (k: number) =>
    openStream(base, IPS.stream[k]!, tokens.valid(USERS.stream[k]!), plan.window);
  for (let k = 0; k < plan.streams; k++) streams.push(await openOne(k));

  let cyclesDone = 0;
  let good = 0;
  let echoed = 0;
  let hostile = 0;
  let attacks = 0;
  const streamFailures: string[] = [];

  const perRoundFrames = F / R;
  for (let round = 0; round < R; round++) {
    // Cycles: this round's share of the indexes, `concurrency` at a time.
    const first = Math.floor((C * round) / R);
    const last = Math.floor((C * (round + 1)) / R);
    let nextIndex = first;
    const worker = async () => {
      while (nextIndex < last) {
        const i = nextIndex++;
        const kind = ROTATION[i % ROTATION.length]!;
        if (excluded.has(kind)) continue;
        try {
          const outcome = await runCycle(i, ctx);
          if (outcome !== undefined) bump(cycleOutcomes, kind, outcome);
        } catch (error) {
          bump(cycleOutcomes, kind, `threw:${(error as Error).message.slice(0, 60)}`);
        }
        cyclesDone++;
      }
    };
    // Hostile frame sessions: until their share of the frames so far is sent (at most 40 a round).
    const hostileTarget = Math.round(perRoundFrames * (round + 1) * plan.hostileShare);
    const attack = async () => {
      for (let n = 0; n < 40 && hostile < hostileTarget; n++) {
        const i = attacks++;
        const r = await attacker
          .run(i, IPS.flood[i % IPS.flood.length]!, USERS.flood[i % USERS.flood.length]!)
          .catch((error: Error) => ({
            attack: 'flood' as FrameAttack,
            outcome: `threw:${error.message.slice(0, 60)}`,
            frames: 0,
          }));
        hostile += r.frames;
        bump(frameOutcomes, r.attack, r.outcome);
      }
    };
    // Good streams: the rest of this round's frames.
    const sentSoFar = good + hostile;
    const roundEnd = Math.round(perRoundFrames * (round + 1));
    const streamWork = async () => {
      // What the hostile sessions will add this round is not known yet: aim at the round's end
      // minus the hostile share, and let the last round even it out.
      const goodTarget = Math.max(
        0,
        roundEnd - sentSoFar - Math.round(perRoundFrames * plan.hostileShare),
      );
      const counts = await Promise.all(
        streams.map((s, k) => s.run(share(goodTarget, streams.length, k))),
      );
      good += goodTarget;
      echoed += counts.reduce((a, b) => a + b, 0);
    };
    await Promise.all([
      Promise.all(Array.from({ length: plan.concurrency }, worker)),
      attack(),
      streamWork(),
    ]);
    // A stream the server closed is reported, then replaced, so the run goes on.
    for (const [k, s] of streams.entries()) {
      if (s.failures.length === 0) continue;
      streamFailures.push(...s.failures.map((f) => `stream-${k}:${f}`));
      s.failures.length = 0;
      await s.close();
      streams[k] = await openOne(k);
    }
    // Silent sockets waiting for their auth deadline are not awaited here: each round would end
    // with one 500 ms wait. They are awaited at the end of the run.
    const measured = round - plan.warmupRounds;
    await sample(measured);
    if (options.snapshots?.includes(measured))
      await get(`${base}/admin/snapshot?name=round-${measured}`);
    const last_ = samples.at(-1)!;
    log(
      `[soak ${runtime}] ${measured < 0 ? 'warm-up' : 'round'} ${measured < 0 ? round + 1 : measured + 1}/${measured < 0 ? plan.warmupRounds : plan.rounds}: ${cyclesDone} cycles, ${good + hostile} frames, ` +
        `rss ${(last_.rss / 2 ** 20).toFixed(1)} MiB, heap ${(last_.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  // Even out the frames: the last round's hostile share may have fallen short or gone over.
  const rest = F - good - hostile;
  if (rest > 0) {
    const counts = await Promise.all(streams.map((s, k) => s.run(share(rest, streams.length, k))));
    good += rest;
    echoed += counts.reduce((a, b) => a + b, 0);
  }
  const workMs = Date.now() - t0;

  for (const [k, s] of streams.entries()) {
    await s.close();
    streamFailures.push(...s.failures.map((f) => `stream-${k}:${f}`));
  }
  await Promise.all([...background]);
  closeAgent();

  // The server holds nothing once every close has been processed and every timer of a closed
  // socket has fired (the hooks give a client 5 s to answer a close frame); bounded.
  const settle = Date.now() + (options.settleMs ?? 20_000);
  let final: Final;
  for (;;) {
    final = await get<Final>(`${base}/admin/final`);
    const idle =
      final.connections === 0 &&
      final.appOpen === 0 &&
      final.leases.ip === 0 &&
      final.leases.user === 0 &&
      Object.keys(final.retainedByKind).every((k) => lingering.has(k)) &&
      Object.keys(final.retainedPeersByKind).every((k) => lingering.has(k));
    if (idle || Date.now() > settle) break;
    log(
      `[soak ${runtime}] settling: ${final.connections} connections, ${final.appOpen} sockets, ` +
        `${final.leases.ip + final.leases.user} leases, reachable ${JSON.stringify(final.retainedByKind)}`,
    );
    await new Promise((r) => setTimeout(r, 500));
  }
  samples.push({ ...final, round: plan.rounds, elapsedMs: Date.now() - t0 });

  const unexpected: string[] = [];
  for (const [kind, outcomes] of Object.entries(cycleOutcomes)) {
    const allowed = ALLOWED[kind as CycleKind];
    for (const [o, n] of Object.entries(outcomes))
      if (!allowed.includes(o)) unexpected.push(`cycle ${kind}: ${o} ×${n}`);
  }
  for (const [attack, outcomes] of Object.entries(frameOutcomes)) {
    const allowed = [
      ...ATTACK_ALLOWED[attack as FrameAttack],
      ...(options.allow?.[attack]?.outcomes ?? []),
    ];
    for (const [o, n] of Object.entries(outcomes))
      if (!allowed.includes(o)) unexpected.push(`frames ${attack}: ${o} ×${n}`);
  }
  if (echoed !== good) unexpected.push(`streams: ${good - echoed} of ${good} frames not echoed`);

  return {
    runtime,
    plan,
    workMs,
    totalMs: Date.now() - t0,
    samples,
    final,
    totals: { cycles: C, frames: F },
    cycles: { done: cyclesDone, outcomes: cycleOutcomes },
    frames: { sent: good + hostile, good, echoed, hostile, outcomes: frameOutcomes },
    unexpected,
    streamFailures,
  };
}
