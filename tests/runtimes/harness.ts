/**
 * Starts `fixture-server.ts` as a real process under Node (tsx), Bun or Deno, with a self-signed
 * certificate made for the run, and reads the URLs it prints. The process is killed on `stop()`
 * (the suite calls it in `afterAll`, failure or not) and after 170 s by the fixture itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A runtime the suite runs on. */
export type Runtime = 'node' | 'bun' | 'deno';

/** Base URLs of the fixture's servers. */
export interface FixtureUrls {
  readonly main: string;
  readonly first: string;
  readonly compressed: string;
  readonly strict: string;
  readonly tls: string;
  readonly idle: string;
  /** `headersTimeoutMs: 0`: the runtime's own server with nothing in front (Deno). */
  readonly bare: string;
}

/** A running fixture. */
export interface Fixture {
  readonly runtime: Runtime;
  readonly urls: FixtureUrls;
  /** PEM of the self-signed certificate the TLS server uses. */
  readonly cert: string;
  readonly child: ChildProcess;
  /** Everything the fixture wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Lines the fixture wrote to stdout after the first. */
  readonly lines: string[];
  /** Kill the process (idempotent) and remove the certificate. */
  stop(): Promise<void>;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);

const COMMANDS: Record<Runtime, [string, string[]]> = {
  // `node --import tsx`, not the tsx CLI: the CLI runs the server as a grandchild, which a kill
  // of the CLI leaves behind.
  node: [process.execPath, ['--import', 'tsx']],
  bun: [bin('bun'), ['run']],
  deno: [bin('deno'), ['run', '-A', '--quiet']],
};

/** Make a throwaway self-signed certificate for 127.0.0.1 with openssl. */
function makeCert(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wsguard-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { dir, cert, key };
}

/**
 * Start a fixture under `runtime` (bounded: 60 s to print its URLs): the runtime's own
 * (`tests/runtimes/fixture-server.ts`), or an integration's (`file`, relative to the repository).
 */
export async function startFixture(
  runtime: Runtime,
  file = 'tests/runtimes/fixture-server.ts',
): Promise<Fixture> {
  const tls = makeCert();
  const [command, args] = COMMANDS[runtime];
  const child = spawn(command, [...args, join(root, file)], {
    cwd: root,
    env: { ...process.env, FIXTURE_CERT: tls.cert, FIXTURE_KEY: tls.key, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const lines: string[] = [];
  let pending = '';
  let first: ((line: string) => void) | undefined;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      if (first) {
        first(line);
        first = undefined;
      } else lines.push(line);
    }
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(tls.dir, { recursive: true, force: true });
  };
  try {
    const line = await new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(() => reject(new Error(`${runtime} fixture did not start`)), 60_000);
      first = (l) => {
        clearTimeout(timer);
        resolveLine(l);
      };
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${runtime} fixture exited (${code}): ${stderr}`));
      });
    });
    const { urls } = JSON.parse(line) as { urls: FixtureUrls };
    return {
      runtime,
      urls,
      cert: readFileSync(tls.cert, 'utf8'),
      child,
      stderr: () => stderr,
      lines,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
