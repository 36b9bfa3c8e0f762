/**
 * Starts `fixture-server.ts` as a real process under Node (tsx), Bun or Deno and reads the URLs it
 * prints. `stop()` kills it (the suite calls it in `afterAll`, failure or not); the fixture also
 * exits by itself after 170 s.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A runtime the suite runs on. */
export type Runtime = 'node' | 'bun' | 'deno';

/** Base URLs (`http://…`) of the fixture's servers. */
export interface TRPCFixtureUrls {
  readonly main: string;
  readonly tight: string;
  readonly limited: string;
}

/** A running fixture. */
export interface TRPCFixture {
  readonly runtime: Runtime;
  readonly urls: TRPCFixtureUrls;
  readonly child: ChildProcess;
  /** Everything the fixture wrote to stderr so far. */
  stderr(): string;
  /** Kill the process (idempotent). */
  stop(): Promise<void>;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);

const COMMANDS: Record<Runtime, [string, string[]]> = {
  // Node itself with tsx's loader, not the `tsx` CLI: the CLI runs the file in a grandchild
  // process, which killing the CLI would leave running.
  node: [process.execPath, ['--import', 'tsx']],
  bun: [bin('bun'), ['run']],
  deno: [bin('deno'), ['run', '-A', '--quiet']],
};

/** Start the fixture under `runtime` (bounded: 60 s to print its URLs). */
export async function startTRPCFixture(runtime: Runtime): Promise<TRPCFixture> {
  const [command, args] = COMMANDS[runtime];
  const child = spawn(command, [...args, join(root, 'tests/trpc-runtimes/fixture-server.ts')], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
  try {
    const line = await new Promise<string>((resolveLine, reject) => {
      let pending = '';
      const timer = setTimeout(() => reject(new Error(`${runtime} fixture did not start`)), 60_000);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        pending += chunk;
        const i = pending.indexOf('\n');
        if (i >= 0) {
          clearTimeout(timer);
          resolveLine(pending.slice(0, i));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${runtime} fixture exited (${code}): ${stderr}`));
      });
    });
    const { urls } = JSON.parse(line) as { urls: TRPCFixtureUrls };
    return { runtime, urls, child, stderr: () => stderr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
