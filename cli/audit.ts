/**
 * `wsguard audit <url>`: probe any WebSocket endpoint the way an attacker would and report what
 * it let through. Each probe states what a safe server does (the close-code contract in
 * docs/architecture.md) and what this one did. Works against any server, guarded by wsguard or
 * not. Runtime code (sockets, process) lives here and in adapters/, never in src/.
 *
 * @module
 */
import WebSocket from 'ws';

/** What one connection attempt ended as. */
export interface Outcome {
  /** HTTP status when the upgrade was refused. */
  readonly status?: number;
  /** Whether the socket opened. */
  readonly opened: boolean;
  /** Close code, when it closed within the probe's time. */
  readonly closeCode?: number;
  /** Close reason. */
  readonly reason?: string;
  /** Frames received. */
  readonly frames: number;
  /** Network error text. */
  readonly error?: string;
}

/** A probe's verdict. */
export type Verdict = 'pass' | 'fail' | 'warn' | 'skip';

/** One line of the report. */
export interface Finding {
  /** Probe name. */
  readonly check: string;
  /** What a safe server does. */
  readonly expected: string;
  /** What happened. */
  readonly observed: string;
  /** Verdict. */
  readonly verdict: Verdict;
}

/** Audit options. */
export interface AuditOptions {
  /** Target, e.g. `wss://app.example.com/ws`. */
  readonly url: string;
  /** An origin the server should accept (for probes that need to get past the origin check). */
  readonly origin?: string;
  /** A valid token, sent as `?token=`; enables the probes that need an authenticated socket. */
  readonly token?: string;
  /**
   * How long to watch each connection, in ms.
   * @default 3000
   */
  readonly waitMs?: number;
}

interface Attempt {
  readonly url: string;
  readonly origin?: string;
  readonly headers?: Record<string, string>;
  readonly protocols?: string[];
  /** Frames to send once open. */
  readonly send?: (ws: WebSocket) => void;
  readonly waitMs: number;
}

/** Open one connection and watch it for `waitMs`; never throws. */
export function attempt(a: Attempt): Promise<Outcome> {
  return new Promise((resolve) => {
    let opened = false;
    let frames = 0;
    let settled = false;
    const ws = new WebSocket(a.url, a.protocols ?? [], {
      ...(a.origin !== undefined ? { origin: a.origin } : {}),
      headers: a.headers ?? {},
      handshakeTimeout: a.waitMs,
      maxPayload: 1 << 20,
    });
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      resolve(o);
    };
    const timer = setTimeout(() => done({ opened, frames }), a.waitMs);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      done({ opened: false, status: res.statusCode ?? 0, frames });
    });
    ws.on('open', () => {
      opened = true;
      try {
        a.send?.(ws);
      } catch {
        // The socket may close under us; the close event reports it.
      }
    });
    ws.on('message', () => {
      frames++;
    });
    ws.on('close', (code, reason) =>
      done({ opened, closeCode: code, reason: reason.toString().slice(0, 120), frames }),
    );
    ws.on('error', (e) => {
      if (!opened) done({ opened, frames, error: e.message });
    });
  });
}

function describe(o: Outcome): string {
  if (o.status !== undefined) return `HTTP ${o.status}`;
  if (o.error !== undefined && !o.opened) return `error: ${o.error}`;
  if (o.closeCode !== undefined)
    return `${o.opened ? 'opened, then ' : ''}closed ${o.closeCode}${o.reason ? ` (${o.reason})` : ''}`;
  return o.opened ? 'opened and stayed open' : 'no answer';
}

/** Refused at the upgrade or closed at once with one of `codes`. */
function refused(o: Outcome, statuses: number[], codes: number[]): boolean {
  if (o.status !== undefined) return statuses.includes(o.status);
  return o.closeCode !== undefined && codes.includes(o.closeCode);
}

function withParam(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** A JWT with `alg: none` and an admin-looking payload. */
function unsignedToken(): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'admin', roles: ['admin'], exp: 4_102_444_800 })}.`;
}

/** What every probe of one audit shares: where, from which page, for how long, and the report. */
interface AuditRun {
  readonly url: string;
  readonly origin: string;
  readonly waitMs: number;
  /** `u` with the audit's token, when one was given. */
  readonly authed: (u: string) => string;
  /** Record a probe's outcome: pass when `ok`, else fail (or warn, when `warnOnly`). */
  readonly add: (
    check: string,
    expected: string,
    o: Outcome,
    ok: boolean,
    warnOnly?: boolean,
  ) => void;
}

/** Plain `ws://` is a warning: tokens and tickets cross the network in the clear. */
function transportFinding(url: string): Finding {
  return url.startsWith('ws://')
    ? { check: 'transport', expected: 'wss:// (TLS)', observed: 'plain ws://', verdict: 'warn' }
    : { check: 'transport', expected: 'wss:// (TLS)', observed: 'wss://', verdict: 'pass' };
}

/** Foreign, look-alike and `null` origins, each with a valid credential when there is one. */
async function probeOrigins({ url, origin, waitMs, authed, add }: AuditRun): Promise<void> {
  const foreign = await attempt({ url: authed(url), origin: 'https://evil.example', waitMs });
  add(
    'foreign Origin (cross-site WebSocket hijacking)',
    'HTTP 403 or close 4003',
    foreign,
    refused(foreign, [403], [4003]),
  );
  const lookalike = await attempt({ url: authed(url), origin: `${origin}.evil.example`, waitMs });
  add(
    'look-alike Origin (suffix trick)',
    'HTTP 403 or close 4003',
    lookalike,
    refused(lookalike, [403], [4003]),
  );
  const nullOrigin = await attempt({ url: authed(url), origin: 'null', waitMs });
  add(
    'Origin: null (sandboxed iframe)',
    'HTTP 403 or close 4003',
    nullOrigin,
    refused(nullOrigin, [403], [4003]),
  );
}

/** No credential, a malformed token, an unsigned one, a guessed ticket: each must be refused. */
async function probeCredentials({ url, origin, waitMs, add }: AuditRun): Promise<void> {
  // A server with first-message auth accepts, then closes after its auth timeout (wsguard's
  // default is 5 s): watch this one long enough to see that close, or the probe misreads it.
  const anonymous = await attempt({ url, origin, waitMs: Math.max(waitMs, 6500) });
  add(
    'no credentials',
    'HTTP 401 or close 4001 (first-message auth: closed within its timeout)',
    anonymous,
    refused(anonymous, [401], [4001]),
  );
  const garbage = await attempt({ url: withParam(url, 'token', 'garbage'), origin, waitMs });
  add('malformed token', 'HTTP 401 or close 4001', garbage, refused(garbage, [401], [4001]));
  const none = await attempt({ url: withParam(url, 'token', unsignedToken()), origin, waitMs });
  add('unsigned token (alg: none)', 'HTTP 401 or close 4001', none, refused(none, [401], [4001]));
  const ticket = await attempt({ url: withParam(url, 'ticket', 'A'.repeat(43)), origin, waitMs });
  add('guessed ticket', 'HTTP 401 or close 4001', ticket, refused(ticket, [401], [4001]));
}

/** The attacks an authenticated client can make with its messages, then a check the server lives. */
async function probeMessages({ url, origin, waitMs, authed, add }: AuditRun): Promise<void> {
  const big = await attempt({
    url: authed(url),
    origin,
    waitMs,
    send: (ws) => ws.send('x'.repeat(16 * 1024 * 1024)),
  });
  add('oversized message (16 MiB)', 'close 1009', big, big.closeCode === 1009);
  const flood = await attempt({
    url: authed(url),
    origin,
    waitMs,
    send: (ws) => {
      for (let i = 0; i < 5000; i++) ws.send('{"flood":1}');
    },
  });
  add(
    'message flood (5,000 frames at once)',
    'close 4029 (or 1008 for invalid frames)',
    flood,
    flood.closeCode === 4029 || flood.closeCode === 1008,
  );
  const deep = await attempt({
    url: authed(url),
    origin,
    waitMs,
    send: (ws) => ws.send(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  });
  add(
    'deeply nested JSON (100,000 levels)',
    'an error reply or a close (1008/1009), server still up',
    deep,
    deep.frames > 0 || deep.closeCode !== undefined,
  );
  const after = await attempt({ url: authed(url), origin, waitMs: Math.min(waitMs, 1500) });
  add(
    'server still serving after the attacks',
    'a valid connection opens',
    after,
    after.opened,
    true,
  );
}

/** Run every probe against `options.url` and return the findings. */
export async function audit(options: AuditOptions): Promise<Finding[]> {
  const url = options.url;
  const findings: Finding[] = [];
  const run: AuditRun = {
    url,
    origin: options.origin ?? new URL(url.replace(/^ws/, 'http')).origin,
    waitMs: options.waitMs ?? 3000,
    authed: (u) => (options.token ? withParam(u, 'token', options.token) : u),
    add: (check, expected, o, ok, warnOnly = false) => {
      findings.push({
        check,
        expected,
        observed: describe(o),
        verdict: ok ? 'pass' : warnOnly ? 'warn' : 'fail',
      });
    },
  };
  findings.push(transportFinding(url));
  await probeOrigins(run);
  await probeCredentials(run);
  if (!options.token) {
    for (const check of [
      'oversized message',
      'message flood',
      'deeply nested JSON',
      'prototype pollution key',
    ]) {
      findings.push({ check, expected: 'needs --token', observed: 'not run', verdict: 'skip' });
    }
    return findings;
  }
  await probeMessages(run);
  return findings;
}

/** Format findings as an aligned text table. */
export function formatFindings(findings: readonly Finding[]): string {
  const mark: Record<Verdict, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };
  const w = Math.max(...findings.map((f) => f.check.length));
  return findings
    .map((f) => `${mark[f.verdict]}  ${f.check.padEnd(w)}  ${f.observed}   (safe: ${f.expected})`)
    .join('\n');
}
