/**
 * The sizing run's child processes: the guarded instances (`server.ts`, with `--expose-gc` for
 * the memory readings) and the client processes (`client.ts`), each `node --import tsx <file>`
 * spawned directly (no shell in between, so a signal reaches the process), with an IPC channel.
 * Every child is tracked from the moment it is spawned (`bench/server-process.ts`): it is killed
 * when the driver exits, however it exits. Start-up is bounded (60 s).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from '../server-process.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A started child and the first message it sent (`{ ready, … }`). */
export interface Started {
  readonly child: ChildProcess;
  readonly ready: { readonly ready: unknown; readonly [key: string]: unknown };
}

/** Spawn `file` (relative to the repository) with `env` and wait for its `ready` message. */
export function startChild(
  name: string,
  file: string,
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Promise<Started> {
  const child = track(
    spawn(process.execPath, [...nodeFlags, '--import', 'tsx', resolve(root, file)], {
      cwd: root,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once('message', (m: Started['ready']) => {
      clearTimeout(timer);
      ok({ child, ready: m });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${name} exited (${code ?? signal}) before it was ready`));
    });
  });
}

/** Start `n` guarded instances on one Redis under `prefix`; resolves with their URLs. */
export async function startServers(
  n: number,
  env: Record<string, string>,
): Promise<{ children: ChildProcess[]; urls: string[] }> {
  const started = await Promise.all(
    Array.from({ length: n }, (_, k) =>
      startChild(`server ${k}`, 'bench/sizing/server.ts', env, ['--expose-gc']),
    ),
  );
  for (const s of started) if (s.ready['gc'] !== true) throw new Error('server has no forced GC');
  return { children: started.map((s) => s.child), urls: started.map((s) => String(s.ready.ready)) };
}

/** Start `n` client processes, splitting connections `[0, total)` between them evenly. */
export async function startClients(
  n: number,
  total: number,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; from: number; to: number }[]> {
  const ranges = Array.from({ length: n }, (_, k) => ({
    from: Math.floor((k * total) / n),
    to: Math.floor(((k + 1) * total) / n),
  }));
  return Promise.all(
    ranges.map(async (r, k) => {
      const s = await startChild(`client ${k}`, 'bench/sizing/client.ts', {
        ...env,
        SIZING_FROM: String(r.from),
        SIZING_TO: String(r.to),
      });
      return { child: s.child, ...r };
    }),
  );
}
