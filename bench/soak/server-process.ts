/**
 * Starts `soak-server.ts` as a real process under Node, Bun or Deno, with a forced GC available on
 * each (Node: `--expose-gc` on an esbuild bundle of the server, as users run the built package,
 * see `bench/bundle.ts`; Deno: `--v8-flags=--expose-gc`; Bun: `Bun.gc(true)` needs no flag), and
 * V8's young generation pinned (see `V8_FLAGS`).
 * Every wait is bounded; `stop()` asks for a graceful close, then kills.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundle } from '../bundle.ts';

/** A runtime the soak runs on. */
export type Runtime = 'node' | 'bun' | 'deno';

/** Every runtime, in the order the soak runs them. */
export const RUNTIMES: readonly Runtime[] = ['node', 'bun', 'deno'];

/** A running soak server. */
export interface SoakServer {
  readonly runtime: Runtime;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** The last 20,000 characters the server wrote to stderr. */
  stderr(): string;
  /**
   * SIGTERM (graceful close), then SIGKILL after `graceMs`; resolves with the line the server
   * printed after its graceful close, when it did.
   */
  stop(graceMs?: number): Promise<string | undefined>;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = 'bench/soak/soak-server.ts';
const bin = (name: string) => join(root, 'node_modules/.bin', name);

/**
 * V8 flags for Node and Deno: a forced GC, and the young generation at its full size from the
 * start. V8 otherwise grows it in one step when the allocation rate rises (heapTotal 32 → 48 MiB
 * on Node, a dozen rounds into a short run), a one-time jump of RSS that would read as growth
 * between the quarters.
 */
const V8_FLAGS = ['--expose-gc', '--min-semi-space-size=16'];

const COMMANDS: Record<Runtime, () => Promise<[string, string[]]>> = {
  node: async () => [process.execPath, [...V8_FLAGS, await nodeBundle(SERVER)]],
  bun: async () => [bin('bun'), ['run', join(root, SERVER)]],
  deno: async () => [
    bin('deno'),
    ['run', '-A', '--quiet', `--v8-flags=${V8_FLAGS.join(',')}`, join(root, SERVER)],
  ],
};

/** Start the soak server under `runtime` (bounded: 60 s to print its URL). */
export async function startSoakServer(
  runtime: Runtime,
  env: Record<string, string> = {},
): Promise<SoakServer> {
  const [command, args] = await COMMANDS[runtime]();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const lines: string[] = [];
  let pending = '';
  let onLine: (() => void) | undefined;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      lines.push(pending.slice(0, i));
      pending = pending.slice(i + 1);
      onLine?.();
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async (graceMs = 5000): Promise<string | undefined> => {
    if (alive()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 5000))]);
      clearTimeout(timer);
    }
    return lines.slice(1).find((l) => l.startsWith('{"closed":true'));
  };
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${runtime} soak server did not start`)),
        60_000,
      );
      onLine = () => {
        clearTimeout(timer);
        onLine = undefined;
        ok();
      };
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`${runtime} soak server exited (${code}): ${stderr}`));
      });
    });
    const first = JSON.parse(lines[0]!) as { url: string; gc: boolean };
    if (!first.gc) throw new Error(`${runtime} soak server has no forced GC`);
    return { runtime, url: first.url, child, stderr: () => stderr, stop };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
