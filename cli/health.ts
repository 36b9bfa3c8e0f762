/**
 * `wsguard health <url>`, which connects (with the token), round-trips a ping, closes cleanly and
 * reconnects. Every step is bounded and timed; unreachable (no TCP or HTTP answer) is told apart
 * from unhealthy (an answer, but not a working socket).
 *
 * @module
 */
import WebSocket from 'ws';
import { withParam } from './probe.ts';

/** One health check's result. */
export interface HealthResult {
  readonly target: string;
  readonly status: 'healthy' | 'unhealthy' | 'unreachable';
  /** What went wrong, when it did. */
  readonly problem?: string;
  /** Step times, ms (only the steps that completed). */
  readonly times: {
    connectMs?: number;
    roundTripMs?: number;
    closeMs?: number;
    reconnectMs?: number;
  };
}

/** Health options. */
export interface HealthOptions {
  readonly url: string;
  readonly origin?: string;
  readonly token?: string;
  /** Bound on each step, ms. */
  readonly timeoutMs: number;
}

type Step<T> =
  | { ok: true; value: T; ms: number }
  | { ok: false; problem: string; reached: boolean };

function open(o: HealthOptions): Promise<Step<WebSocket>> {
  const url = o.token ? withParam(o.url, 'token', o.token) : o.url;
  const started = performance.now();
  return new Promise((resolve) => {
    const ws = new WebSocket(url, {
      origin: o.origin ?? new URL(o.url.replace(/^ws/, 'http')).origin,
      handshakeTimeout: o.timeoutMs,
    });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve({ ok: false, problem: `no answer within ${o.timeoutMs} ms`, reached: false });
    }, o.timeoutMs);
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      resolve({ ok: false, problem: `refused: HTTP ${res.statusCode}`, reached: true });
    });
    ws.on('open', () => {
      // A refusal after accepting (e.g. 4001) closes at once: wait a moment to see it.
      const settle = setTimeout(() => {
        clearTimeout(timer);
        ws.removeAllListeners('close');
        resolve({ ok: true, value: ws, ms: Math.round(performance.now() - started) });
      }, 100);
      ws.once('close', (code, reason) => {
        clearTimeout(settle);
        clearTimeout(timer);
        resolve({
          ok: false,
          problem: `closed ${code} ${reason.toString()}`.trim(),
          reached: true,
        });
      });
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, problem: e.message, reached: false });
    });
  });
}

function step(
  ws: WebSocket,
  timeoutMs: number,
  run: (done: () => void) => void,
): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    run(() => {
      clearTimeout(timer);
      resolve(Math.round(performance.now() - started));
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Run the health check. */
export async function health(o: HealthOptions): Promise<HealthResult> {
  const times: HealthResult['times'] = {};
  const bad = (problem: string, reached: boolean): HealthResult => ({
    target: o.url,
    status: reached ? 'unhealthy' : 'unreachable',
    problem,
    times,
  });
  const first = await open(o);
  if (!first.ok) return bad(first.problem, first.reached);
  times.connectMs = first.ms;
  const ws = first.value;
  const rtt = await step(ws, o.timeoutMs, (done) => {
    ws.once('pong', done);
    ws.ping();
  });
  if (rtt === undefined) {
    ws.terminate();
    return bad('no pong to a ping', true);
  }
  times.roundTripMs = rtt;
  const closeMs = await new Promise<number | undefined>((resolve) => {
    const started = performance.now();
    const timer = setTimeout(() => resolve(undefined), o.timeoutMs);
    ws.removeAllListeners('close');
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 1000 ? Math.round(performance.now() - started) : undefined);
    });
    ws.close(1000, 'health check');
  });
  ws.terminate();
  if (closeMs === undefined) return bad('no clean close (1000) answered', true);
  times.closeMs = closeMs;
  const again = await open(o);
  if (!again.ok) return bad(`reconnect: ${again.problem}`, true);
  times.reconnectMs = again.ms;
  again.value.close(1000);
  setTimeout(() => again.value.terminate(), 200).unref();
  return { target: o.url, status: 'healthy', times };
}
