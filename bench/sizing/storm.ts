/**
 * The reconnect storm: every instance closes all its sockets at once with 1012 (service restart),
 * and every client reconnects on its own, paced by the client's policy (`reconnect.ts`: 1012 means
 * back off, full jitter from 500 ms). Redis's counters and the clients' tallies are read every
 * 100 ms until every dropped connection is back (or stopped, or gave up), or the phase's cap.
 *
 * Why 1012 from the app rather than restarting the processes: a restart's graceful close sends
 * 1001, which the client answers with an immediate reconnect (once per run, no jitter), and a
 * process killed outright leaves its leases in Redis until `leaseTtlMs`, so the reconnects would
 * meet full per-user caps; both are other experiments. Keeping the processes also keeps their
 * CPU and memory readings continuous across the storm.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { measure, type PhaseResult, type Rig } from './phase.ts';
import { readRedis } from './redis-probe.ts';

/** What the clients report to `status` (see `client.ts`). */
export interface ClientStatus {
  readonly open: number;
  readonly pending: number;
  readonly reconnected: number;
  readonly attempts: number;
  readonly refusals: Readonly<Record<string, number>>;
  readonly ended: Readonly<Record<string, number>>;
}

/** The storm's figures. */
export interface StormResult {
  readonly dropped: number;
  /** How they were dropped: the close code, and the reconnect window when one was given. */
  readonly drop: string;
  readonly reconnected: number;
  /** ms from the drop until the last dropped connection was open again; undefined if never. */
  readonly allBackMs: number | undefined;
  readonly attempts: number;
  readonly clientRefusals: Record<string, number>;
  readonly ended: Record<string, number>;
  /** Peak over 100 ms samples and over 1 s (ten samples) windows. */
  readonly peakOpsPerSec100ms: number;
  readonly peakOpsPerSec1s: number;
  readonly peakCpuPct100ms: number;
  readonly peakCpuPct1s: number;
  readonly peakReconnectsPerSec1s: number;
  readonly samples: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The probe's own commands per reading (`INFO stats`, `INFO cpu`). */
const PROBE_COMMANDS = 2;

const sumStatus = (all: ClientStatus[]) => {
  const merge = (pick: (s: ClientStatus) => Readonly<Record<string, number>>) => {
    const out: Record<string, number> = {};
    for (const s of all) for (const [k, v] of Object.entries(pick(s))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    reconnected: all.reduce((a, s) => a + s.reconnected, 0),
    pending: all.reduce((a, s) => a + s.pending, 0),
    attempts: all.reduce((a, s) => a + s.attempts, 0),
    refusals: merge((s) => s.refusals),
    ended: merge((s) => s.ended),
  };
};

/** The largest sum of `window` consecutive values, per second. */
function peakWindow(values: readonly { v: number; ms: number }[], window: number): number {
  let best = 0;
  for (let k = 0; k + window <= values.length; k++) {
    const slice = values.slice(k, k + window);
    const ms = slice.reduce((a, x) => a + x.ms, 0);
    if (ms > 0) best = Math.max(best, (slice.reduce((a, x) => a + x.v, 0) / ms) * 1000);
  }
  return best;
}

/** Drop every socket, follow the reconnects (at most `capMs`), and measure the whole phase. */
export async function runStorm(
  rig: Rig,
  clients: readonly ChildProcess[],
  capMs: number,
  windowMs = 0,
): Promise<{ phase: PhaseResult; storm: StormResult }> {
  await Promise.all(clients.map((c) => rig.ask(c, { op: 'storm' })));
  let storm: StormResult | undefined;
  const phase = await measure(
    rig,
    'reconnect storm',
    'reconnects',
    async () => {
      storm = await follow(rig, clients, capMs, windowMs);
      return storm;
    },
    (s) => s.reconnected,
  );
  return { phase, storm: storm! };
}

async function follow(
  rig: Rig,
  clients: readonly ChildProcess[],
  capMs: number,
  windowMs: number,
): Promise<StormResult> {
  const t0 = performance.now();
  const drops = await Promise.all(
    rig.servers.map(
      (s) =>
        rig.ask(
          s,
          windowMs > 0
            ? { op: 'drop', code: 1001, reason: 'server shutting down', windowMs }
            : { op: 'drop', code: 1012, reason: 'service restart' },
        ) as Promise<{
          dropped: number;
        }>,
    ),
  );
  const dropped = drops.reduce((a, d) => a + d.dropped, 0);
  const ops: { v: number; ms: number }[] = [];
  const cpu: { v: number; ms: number }[] = [];
  const back: { v: number; ms: number }[] = [];
  let prev = await readRedis(rig.redis);
  let prevBack = 0;
  let allBackMs: number | undefined;
  let last = sumStatus([]);
  while (performance.now() - t0 < capMs) {
    await sleep(100);
    const [r, statuses] = await Promise.all([
      readRedis(rig.redis),
      Promise.all(clients.map((c) => rig.ask(c, { op: 'status' }) as Promise<ClientStatus>)),
    ]);
    last = sumStatus(statuses);
    const ms = r.at - prev.at;
    ops.push({ v: r.total - prev.total - PROBE_COMMANDS, ms });
    // CPU-seconds × 100 over the window's seconds: percent of one core.
    cpu.push({ v: (r.cpuSec - prev.cpuSec) * 100, ms });
    back.push({ v: last.reconnected - prevBack, ms });
    prev = r;
    prevBack = last.reconnected;
    const endedCount = (last.ended['gave-up'] ?? 0) + (last.ended['stopped'] ?? 0);
    if (last.reconnected >= dropped && allBackMs === undefined) allBackMs = r.at - t0;
    if (last.reconnected + endedCount >= dropped && last.pending === 0) break;
  }
  return {
    dropped,
    drop: windowMs > 0 ? `1001, retry in 0–${windowMs} ms` : '1012 "service restart"',
    reconnected: last.reconnected,
    allBackMs,
    attempts: last.attempts,
    clientRefusals: last.refusals,
    ended: last.ended,
    peakOpsPerSec100ms: peakWindow(ops, 1),
    peakOpsPerSec1s: peakWindow(ops, 10),
    peakCpuPct100ms: peakWindow(cpu, 1),
    peakCpuPct1s: peakWindow(cpu, 10),
    peakReconnectsPerSec1s: peakWindow(back, 10),
    samples: ops.length,
  };
}
