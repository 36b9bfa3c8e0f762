/**
 * The bench servers' child processes: each prints one JSON line (its URLs) once it listens. Every
 * child is tracked from the moment it is spawned, so one that never starts is killed too, and all
 * are killed when this process exits, whether the run ends, fails or is interrupted (each server
 * also exits by itself after a few minutes, should this process be killed outright).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

const children = new Set<ChildProcess>();

/** Kill every tracked child still running (the end of a run). */
export function killServers(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
}

let hooked = false;
/** Track `child`: it is killed at exit (normal, failure, Ctrl-C or SIGTERM) if still running. */
export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.once('exit', killServers);
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => process.exit(130));
  }
  children.add(child);
  return child;
}

/** A started server: its process and the JSON line it printed. */
export interface ServerProcess<Info> {
  /** The server's process (tracked). */
  readonly child: ChildProcess;
  /** What the server printed once listening. */
  readonly info: Info;
}

/** Spawn a server in `cwd` and wait (60 s at most) for its JSON line. */
export async function startServer<Info>(
  name: string,
  command: string,
  args: readonly string[],
  cwd: string,
): Promise<ServerProcess<Info>> {
  const child = track(spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }));
  const line = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} server did not start`)), 60_000);
    let buffered = '';
    child.stdout?.on('data', (d) => {
      buffered += String(d);
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        ok(buffered.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${name} server exited (${code})`));
    });
  });
  return { child, info: JSON.parse(line) as Info };
}
