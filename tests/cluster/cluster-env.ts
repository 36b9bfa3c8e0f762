/**
 * Helpers of the multi-process tests: start fixture instances (real processes, each on its own
 * 127.0.0.x), open WebSockets from chosen loopback source addresses (the guard keys rate limits by
 * client IP), tell accepted sockets from refused ones by outcome, and drive tRPC clients.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { ORIGIN, SECRET } from './fixtures/config.ts';
import type { ClusterRouter } from './fixtures/server.ts';

export { eventually } from '../store/redis-env.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
const serverFile = join(root, 'tests/cluster/fixtures/server.ts');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running fixture instance. */
export interface Instance {
  readonly name: string;
  /** `ws://127.0.0.x:port` */
  readonly ws: string;
  /** `http://127.0.0.x:port` */
  readonly http: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** What it wrote to stderr (its rate-limited error log). */
  readonly stderr: string[];
  /** Resolves with the exit code (or signal name) once it exits. */
  readonly exited: Promise<number | string | null>;
}

/** Start one instance; resolves once it prints its address (at most 30 s). */
export function startInstance(options: {
  redisUrl: string;
  prefix: string;
  host: string;
  name: string;
  env?: Record<string, string>;
}): Promise<Instance> {
  const child = spawn(
    tsx,
    [serverFile, options.redisUrl, options.prefix, options.host, options.name],
    {
      cwd: root,
      env: { ...process.env, ...options.env },
    },
  );
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
      reject(new Error(`instance ${options.name} did not start in 30 s: ${stderr.join('')}`));
    }, 30_000);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const info = JSON.parse(line) as { ws: string; http: string };
        resolve({ name: options.name, ws: info.ws, http: info.http, child, stderr, exited });
      } catch {
        reject(new Error(`instance ${options.name} said: ${line} ${stderr.join('')}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${options.name} exited with ${code}: ${stderr.join('')}`));
    });
  });
}

/** SIGKILL every instance still running and wait for each to exit. */
export async function killAll(instances: readonly (Instance | undefined)[]): Promise<void> {
  await Promise.all(
    instances.map(async (i) => {
      if (!i) return;
      if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
      await i.exited;
    }),
  );
}

/** Alive, and answering HTTP. */
export async function healthy(i: Instance): Promise<boolean> {
  if (i.child.exitCode !== null || i.child.signalCode !== null) return false;
  const res = await fetch(`${i.http}/healthz`, { signal: AbortSignal.timeout(5000) });
  return res.status === 200 && (await res.text()) === 'ok';
}

export async function stats(
  i: Instance,
): Promise<{ connections: number; users: Record<string, number> }> {
  const res = await fetch(`${i.http}/stats`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as { connections: number; users: Record<string, number> };
}

export async function post<T>(url: string, body: unknown, timeoutMs = 60_000): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const key = new TextEncoder().encode(SECRET);

/** A JWT for `sub` with role `user`, valid 10 minutes. */
export function token(sub: string): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(key);
}

/** How one connection attempt ended. */
export type Outcome =
  /** The guard accepted it: the socket answers PING with PONG (the bridge's keep-alive). */
  | { readonly kind: 'accepted'; readonly ws: WebSocket }
  /** Accepted at the HTTP level, then closed by the server with `code` (4001, 4008, 1013…). */
  | { readonly kind: 'closed'; readonly code: number }
  /** Refused at the upgrade with an HTTP status (429, 503…). */
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'error'; readonly message: string }
  /** Nothing conclusive within the bound: a hung handshake. */
  | { readonly kind: 'timeout' };

/**
 * Open a socket and say how it ended, within `timeoutMs`. An accepted socket is told from one
 * that is closed right after the handshake (caps, bad tickets) by an outcome, not by waiting: it
 * answers PING; a refused one is closed with a code.
 */
export function attempt(
  url: string,
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const ws = new WebSocket(url, {
      origin: ORIGIN,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      handshakeTimeout: timeoutMs,
    });
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (outcome.kind !== 'accepted') ws.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    // A socket can error at any time (a killed server); never leave 'error' unheard.
    ws.on('error', (error) => finish({ kind: 'error', message: error.message }));
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      finish({ kind: 'http', status: res.statusCode ?? 0 });
    });
    ws.on('open', () => ws.send('PING'));
    ws.on('message', (data) => {
      if (String(data) === 'PONG') finish({ kind: 'accepted', ws });
    });
    ws.on('close', (code) => finish({ kind: 'closed', code }));
  });
}

/** Close sockets and wait for their close handshakes (at most 5 s). */
export async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 5000);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000);
        }),
    ),
  );
}

/** Tally outcomes by kind (and code or status). */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const k =
      o.kind === 'closed' ? `closed ${o.code}` : o.kind === 'http' ? `http ${o.status}` : o.kind;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export function accepted(outcomes: readonly Outcome[]): WebSocket[] {
  return outcomes.flatMap((o) => (o.kind === 'accepted' ? [o.ws] : []));
}

/**
 * A real `@trpc/client` over `wsLink`, with `WebSocket` from `ws`. `url` is asked at every
 * (re)connection, so a test can send a reconnecting client to another instance.
 */
export function trpcClient(url: () => Promise<string> | string, localAddress: string) {
  class OriginWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { origin: ORIGIN, localAddress });
      // tRPC listens with addEventListener; keep an EventEmitter listener too so that an error
      // after the client moved on is never unhandled.
      this.on('error', () => {});
    }
  }
  const wsClient = createWSClient({
    url,
    WebSocket: OriginWebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 100,
  });
  const trpc = createTRPCClient<ClusterRouter>({ links: [wsLink({ client: wsClient })] });
  return { wsClient, trpc };
}
