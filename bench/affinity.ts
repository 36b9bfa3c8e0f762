/**
 * Pinning a bench's processes to one CPU (Linux, `taskset`), for the server-CPU tables of
 * handshakes.
 *
 * Why: on loopback the driver is the server's only client. A process that writes to a socket
 * whose reader sleeps on another CPU pays for waking it, and in a VM that wake-up is an
 * inter-processor interrupt, several µs. Whichever of the two processes is slower keeps finding
 * the other asleep, so the slower server is charged for waking its client on nearly every
 * handshake and the faster one almost never: under `perf` (docs/benchmarks.md, round 5) the
 * wake-ups cost a guarded server 5–18 µs a handshake against 3–4 for the bare one. A deployed server
 * does not pay it: its clients are other machines. With the driver and the server on one CPU, a
 * wake-up is a run-queue insertion on that CPU, the same for both, and what the server's CPU
 * time counts is its own work.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The CPUs a process may run on, as the kernel lists them (`0-1`); `undefined` off Linux. */
export function allowedCpus(pid: number | 'self' = 'self'): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  } catch {
    return undefined;
  }
}

/** Set the CPUs of every thread of `pid`; false when `taskset` is missing or refuses. */
function setCpus(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `fn` with this process and `pids` on CPU `cpu` alone, then give each its CPUs back.
 * Resolves to `undefined` without running `fn` where pinning cannot be done (not Linux, no
 * `taskset`, a single CPU already).
 */
export async function onOneCpu<T>(
  pids: readonly number[],
  fn: () => Promise<T>,
  cpu = 0,
): Promise<T | undefined> {
  const all = [process.pid, ...pids];
  const before = all.map((pid) => allowedCpus(pid));
  if (before.some((cpus) => cpus === undefined || cpus === String(cpu))) return undefined;
  try {
    if (!all.every((pid) => setCpus(pid, String(cpu)))) return undefined;
    return await fn();
  } finally {
    for (const [i, pid] of all.entries()) setCpus(pid, before[i]!);
  }
}
