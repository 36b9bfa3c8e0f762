/**
 * The fault suite's real parts: a private `redis-server` with AOF that can be killed, restarted
 * and stalled (never the shared one at 6379), wsguard instances as processes on fixed ports so a
 * killed one can be started again where its clients reconnect, subscribers through the real
 * `@trpc/client` and `wsguard/client`, and a publisher that retries with the same idempotency key.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, type TRPCClient, wsLink } from '@trpc/client';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import {
  createGuardedWSClient,
  FeedErrorCode,
  feedErrorCode,
  feedResumeLink,
  type GuardedWSClient,
} from '../../src/client.ts';
import { eventually, pingRedis } from '../store/redis-env.ts';
import { FAULT_SECRET } from './fixtures/config.ts';
import type { FaultRouter } from './fixtures/instance.ts';
import type { Acked, Received, Told } from './verify.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const instanceFile = join(root, 'tests/faults/fixtures/instance.ts');

/** Wait `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `ok` every 50 ms until it holds; `false` after `timeoutMs`. */
export async function until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** A free port on `host` from 6390 up (bound, then released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 6390 + Math.floor(Math.random() * 20_000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, host, () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  throw new Error(`no free port on ${host}`);
}

/** A private Redis with AOF fsynced on every write, so a kill -9 loses no acknowledged write. */
export class PrivateRedis {
  /** Its working directory, where the AOF lives across restarts. */
  readonly dir = mkdtempSync(join(tmpdir(), 'wsguard-faults-'));
  /** The running `redis-server`, or `undefined` while killed. */
  child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A new private Redis on a free port, with its own AOF directory, answering PING. */
  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  /** Start (again, after a kill: same port, same AOF) and wait until it answers PING. */
  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''];
    args.push('--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir);
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: 'ignore' });
    child.on('error', () => {});
    this.child = child;
    await eventually(async () => {
      if (!(await pingRedis(this.url, 200))) throw new Error('private redis-server not up yet');
    }, 100);
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // a stopped process dies of SIGKILL too, but be plain about it
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP (`true`) or SIGCONT (`false`): connected, silent. */
  stall(stopped: boolean): void {
    this.child?.kill(stopped ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Kill it and remove its AOF directory (end of the suite). */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running instance fixture. */
export interface Instance {
  readonly name: string;
  /** `ws://host:port/ws` */
  readonly ws: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** What it wrote to stderr (its rate-limited error log). */
  readonly stderr: string[];
  /** Resolves with the exit code (or signal name) once it exits. */
  readonly exited: Promise<number | string | null>;
}

/** Where an instance runs; the same spec starts it again after a kill. */
export interface InstanceSpec {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly host: string;
  readonly port: number;
  readonly name: string;
}

/** Start one instance; resolves once it prints its address (at most 30 s). */
export function startInstance(spec: InstanceSpec): Promise<Instance> {
  const args = [instanceFile, spec.redisUrl, spec.prefix, spec.host, String(spec.port), spec.name];
  // Node itself with tsx's loader, not the tsx command: that one runs the script in a child
  // process, and a SIGSTOP or SIGKILL would reach the wrapper, not the instance.
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: process.env,
  });
  const stderr: string[] = [];
  child.stderr.on('data', (d) => {
    if (stderr.length < 200) stderr.push(String(d));
  });
  child.on('error', (error) => stderr.push(`spawn: ${error.message}`));
  // stdin stays open: when this process dies, the pipe closes and the instance exits.
  child.stdin.on('error', () => {});
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return new Promise<Instance>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${spec.name} did not start in 30 s: ${stderr.join('')}`));
    }, 30_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        const info = JSON.parse(line) as { ws: string };
        resolve({ name: spec.name, ws: info.ws, child, stderr, exited });
      } catch {
        reject(new Error(`instance ${spec.name} said: ${line} ${stderr.join('')}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${spec.name} exited with ${code}: ${stderr.join('')}`));
    });
  });
}

/**
 * Send `signal` and wait for the exit, at most `ms`: past it the instance is killed and this
 * rejects (a shutdown that hangs is a finding, not something to wait out).
 */
export async function signalAndWait(
  i: Instance,
  signal: NodeJS.Signals,
  ms = 10_000,
): Promise<void> {
  i.child.kill(signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const outcome = await Promise.race([i.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    i.child.kill('SIGKILL');
    await i.exited;
    throw new Error(`instance ${i.name} did not exit within ${ms} ms of ${signal}`);
  }
}

/** SIGKILL (after SIGCONT, in case it is stopped) every instance still running; wait for each. */
export async function killAll(instances: readonly (Instance | undefined)[]): Promise<void> {
  await Promise.all(
    instances.map(async (i) => {
      if (!i) return;
      if (i.child.exitCode === null && i.child.signalCode === null) {
        i.child.kill('SIGCONT');
        i.child.kill('SIGKILL');
      }
      await i.exited;
    }),
  );
}

const key = new TextEncoder().encode(FAULT_SECRET);

/** A JWT for `sub` with role `user`, valid 10 minutes. */
export function token(sub: string): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(key);
}

/** `ws`, with an extra error listener: an error after tRPC moved on must never be unhandled. */
class QuietWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols);
    this.on('error', () => {});
  }
}

/** A guarded tRPC client of one instance, reconnecting quickly and for long enough. */
export function faultClient(
  url: string,
  sub: string,
  hooks: Pick<Parameters<typeof createGuardedWSClient>[0], 'onClose' | 'onStop'> = {},
  resume = false,
): { ws: GuardedWSClient; trpc: TRPCClient<FaultRouter> } {
  const jwt = token(sub);
  const ws = createGuardedWSClient({
    url,
    WebSocket: QuietWebSocket as unknown as typeof globalThis.WebSocket,
    getToken: () => jwt,
    backoff: { baseMs: 50, maxMs: 250, maxAttempts: 400, maxElapsedMs: 60_000 },
    ...hooks,
  });
  const link = wsLink<FaultRouter>({ client: ws.client });
  const links = resume ? [feedResumeLink<FaultRouter>({ maxResumes: 20 }), link] : [link];
  return { ws, trpc: createTRPCClient<FaultRouter>({ links }) };
}

/** A subscriber: what it received and what it was told, in order. */
export interface Subscriber {
  readonly label: string;
  readonly received: Received[];
  /** Errors its subscription ended with (by contract code when there is one) and client stops. */
  readonly told: Told[];
  /** Close codes its socket saw (a reconnect each, unless stopped). */
  readonly closes: number[];
  /** Ended for good: told RELOAD (the app would reload), stopped, or out of resumes. */
  readonly ended: boolean;
  close(): Promise<void>;
}

/**
 * Subscribe to `topic` on `url` from `from` through `feedResumeLink` + `wsLink`. A RESUME that
 * reaches `onError` (the link ran out of resumes) is obeyed as an app would: subscribe again from
 * the last id, a bounded number of times. A RELOAD ends it (the app reloads its state).
 */
export function subscribe(url: string, topic: string, from: string, label: string): Subscriber {
  const received: Received[] = [];
  const told: Told[] = [];
  const closes: number[] = [];
  let ended = false;
  const { ws, trpc } = faultClient(
    url,
    `sub-${label}`,
    {
      onClose: (e) => closes.push(e.code),
      onStop: (stop) => {
        told.push({ code: `stop ${stop.kind}`, at: received.length });
        ended = true;
      },
    },
    true,
  );
  let resumes = 0;
  let current: { unsubscribe(): void } | undefined;
  const start = (lastEventId: string): void => {
    current = trpc.onEvent.subscribe(
      { topic, lastEventId },
      {
        onData: (e) => received.push({ n: e.data.n, id: e.id }),
        onError: (error) => {
          const code = feedErrorCode(error) ?? `error ${error.data?.code ?? error.message}`;
          told.push({ code, at: received.length });
          if (code === FeedErrorCode.Resume && resumes++ < 10) {
            start(received.at(-1)?.id ?? from);
          } else {
            ended = true;
          }
        },
      },
    );
  };
  start(from);
  return {
    label,
    received,
    told,
    closes,
    get ended() {
      return ended;
    },
    async close() {
      current?.unsubscribe();
      await ws.close();
    },
  };
}

/** What a publishing run ended with. */
export interface Published {
  /** Acknowledged events, in publish order. */
  readonly acked: Acked[];
  /** Events whose publish never resolved within the retries (may or may not be appended). */
  readonly unacked: number[];
  /** Publish attempts that failed and were retried with the same key. */
  readonly retries: number;
  /** Failed attempts by message, for the report. */
  readonly errors: Record<string, number>;
}

/**
 * Publish n = `from`..`to` one after the other (so publish order is stream order), each through
 * the `publish` mutation of `targets[(n + attempt) % targets.length]`, retried with the SAME
 * idempotency key on any failure (at most `tries` attempts, 100 ms apart, each bounded to 2 s).
 */
export async function publishRange(options: {
  readonly targets: readonly TRPCClient<FaultRouter>[];
  readonly topic: string;
  readonly from: number;
  readonly to: number;
  readonly paceMs?: number;
  readonly tries?: number;
  /** Filled as events are acknowledged, so a fault can be timed by progress. */
  readonly acked?: Acked[];
}): Promise<Published> {
  const { targets, topic } = options;
  const acked = options.acked ?? [];
  const unacked: number[] = [];
  const errors: Record<string, number> = {};
  let retries = 0;
  const tries = options.tries ?? 60;
  for (let n = options.from; n <= options.to; n++) {
    const key = `${topic}:${n}`;
    let id: string | undefined;
    for (let attempt = 0; attempt < tries && id === undefined; attempt++) {
      const target = targets[(n + attempt) % targets.length] as TRPCClient<FaultRouter>;
      try {
        id = await target.publish.mutate({ topic, n, key }, { signal: AbortSignal.timeout(2000) });
      } catch (error) {
        const text = error instanceof Error ? error.message.slice(0, 80) : String(error);
        errors[text] = (errors[text] ?? 0) + 1;
        retries++;
        await sleep(100);
      }
    }
    if (id === undefined) unacked.push(n);
    else acked.push({ n, id });
    if (options.paceMs) await sleep(options.paceMs);
  }
  return { acked, unacked, retries, errors };
}
