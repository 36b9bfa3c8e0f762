/**
 * One measured phase of the sizing run: Redis's counters and every instance's CPU time read
 * before and after the phase's work, so the phase's cost is the difference, divided by what the
 * phase did (handshakes, frames, or seconds of holding).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import type { IpcRequest } from './ipc.ts';
import { type RedisDelta, readRedis, redisDelta } from './redis-probe.ts';

/** What an instance answers to `sample` (see `server.ts`). */
export interface ServerSample {
  readonly cpuMicros: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly open: number;
  readonly stats: {
    readonly connections: number;
    readonly accepted: number;
    readonly rejections: Readonly<Record<string, number>>;
    readonly messages: number;
    readonly messageRejections: Readonly<Record<string, number>>;
    readonly closes: Readonly<Record<string, number>>;
  };
  readonly errors: Readonly<Record<string, number>>;
  /** Redis commands this instance sent since start, by name. */
  readonly sent: Readonly<Record<string, number>>;
}

/** The driver's means of talking to its processes. */
export interface Rig {
  readonly redis: Redis;
  readonly servers: readonly ChildProcess[];
  readonly ask: (child: ChildProcess, request: IpcRequest, timeoutMs?: number) => Promise<unknown>;
}

/** Every instance's sample; `gc` forces two full collections first (memory readings). */
export function sampleServers(rig: Rig, gc = false): Promise<ServerSample[]> {
  return Promise.all(
    rig.servers.map((s) => rig.ask(s, { op: 'sample', gc }) as Promise<ServerSample>),
  );
}

/** A phase's measured cost. */
export interface PhaseResult {
  readonly name: string;
  /** What the phase did, in its unit (handshakes, frames, seconds). */
  readonly count: number;
  readonly unit: string;
  /** Wall time of the work, in ms. */
  readonly ms: number;
  readonly redis: RedisDelta;
  /** CPU time of every instance together, in µs. */
  readonly serverCpuMicros: number;
  /** Redis commands the instances sent during the phase, by name (round trips at most). */
  readonly sent: Record<string, number>;
  /** Handshakes the guard refused during the phase, by reason, every instance together. */
  readonly rejections: Record<string, number>;
  /** Whatever the work returned. */
  readonly detail: unknown;
}

/**
 * Run `work` and measure it. `count` turns the work's result into the count of the phase's unit
 * (accepted handshakes, acknowledged frames…).
 */
export async function measure<T>(
  rig: Rig,
  name: string,
  unit: string,
  work: () => Promise<T>,
  count: (result: T, ms: number) => number,
): Promise<PhaseResult> {
  const [r0, s0] = await Promise.all([readRedis(rig.redis, true), sampleServers(rig)]);
  const t0 = performance.now();
  const detail = await work();
  const ms = performance.now() - t0;
  const [r1, s1] = await Promise.all([readRedis(rig.redis, true), sampleServers(rig)]);
  const cpu = s1.reduce((a, s, k) => a + s.cpuMicros - s0[k]!.cpuMicros, 0);
  return {
    name,
    count: count(detail, ms),
    unit,
    ms,
    redis: redisDelta(r0, r1),
    serverCpuMicros: cpu,
    sent: countDelta(s0, s1, (s) => s.sent),
    rejections: countDelta(s0, s1, (s) => s.stats.rejections),
    detail,
  };
}

/** A counter table summed over instances, `after` minus `before` (refusals, commands sent). */
export function countDelta(
  before: readonly ServerSample[],
  after: readonly ServerSample[],
  pick: (s: ServerSample) => Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  after.forEach((s, k) => {
    const b = before[k];
    for (const [r, n] of Object.entries(pick(s))) {
      const d = n - (b ? (pick(b)[r] ?? 0) : 0);
      if (d > 0) out[r] = (out[r] ?? 0) + d;
    }
  });
  return out;
}
