/**
 * `wsguard audit <url>`, which probes any WebSocket endpoint the way an attacker would and reports
 * what it let through. The runner checks the server answers at all, runs each probe from the
 * current source address, and treats a ban as the defence it is: reported once per address, the
 * probe retried from the next `--source` address, or, with none left, every later probe "not run".
 *
 * @module
 */
import { type Attempt, attempt, type Outcome } from './attempt.ts';
import { BannedError, type BanSeen, banOf } from './ban.ts';
import type { Finding } from './finding.ts';
import type { Judgement, Probe, ProbeContext } from './probe.ts';
import { withParam } from './probe.ts';
import { LEAKAGE_PROBE } from './probe-leakage.ts';
import { COMPRESSION_PROBES } from './probes-compression.ts';
import { CONNECTION_PROBES } from './probes-connections.ts';
import { credentialProbes } from './probes-credentials.ts';
import { MESSAGE_PROBES } from './probes-messages.ts';
import { ORIGIN_PROBES } from './probes-origin.ts';
import { transportFinding } from './transport.ts';

/** Audit options. */
export interface AuditOptions {
  /** Target, e.g. `wss://app.example.com/ws`. */
  readonly url: string;
  /** An origin the server accepts (default: the target's own). */
  readonly origin?: string;
  /** A valid token, sent as `?token=`; enables the probes that need an authenticated socket. */
  readonly token?: string;
  /** An expired token from the issuer. */
  readonly expiredToken?: string;
  /** The server's public key (PEM text), for the RS256 → HS256 confusion probe. */
  readonly publicKeyPem?: string;
  /** The server's key set URL, for the same probe (fetched within `connectTimeoutMs`). */
  readonly jwksUrl?: string;
  /** Where tickets are issued (`POST`, `--token` as Bearer): enables the ticket probes. */
  readonly ticketUrl?: string;
  /** The longest lifetime a ticket may state, seconds. @default 60 */
  readonly ticketMaxAgeSec?: number;
  /** How long to watch each connection, ms. @default 3000 */
  readonly waitMs?: number;
  /** How long to watch an anonymous socket for its auth deadline, ms. @default 6500 */
  readonly authWaitMs?: number;
  /** Bound on reaching the server at all, ms. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Local addresses to spread probes over when one gets banned. */
  readonly sources?: readonly string[];
  /** Told each finding as it is made (progress). */
  readonly onFinding?: (f: Finding) => void;
}

/** What an audit found. */
export interface AuditResult {
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  /** Why the server counts as unreachable (no TCP or HTTP answer), when it does. */
  readonly unreachable?: string;
  /** Every source was banned before the first probe: nothing was tested. */
  readonly incomplete?: boolean;
  readonly findings: Finding[];
}

/**
 * Every probe of an audit, in the order they run. The credential probes take the audit's inputs
 * (keys, ticket URL) and `source`, the address the audit currently connects from.
 */
export function probesFor(options: AuditOptions, source: () => string | undefined): Probe[] {
  return [
    ...ORIGIN_PROBES,
    ...credentialProbes({
      ...(options.publicKeyPem !== undefined ? { publicKeyPem: options.publicKeyPem } : {}),
      ...(options.jwksUrl !== undefined ? { jwksUrl: options.jwksUrl } : {}),
      ...(options.ticketUrl !== undefined ? { ticketUrl: options.ticketUrl } : {}),
      ticketMaxAgeSec: options.ticketMaxAgeSec ?? 60,
      timeoutMs: options.connectTimeoutMs ?? 5000,
      source,
    }),
    ...MESSAGE_PROBES,
    // After the message probes (they share the open socket), before the floods.
    ...COMPRESSION_PROBES,
    ...CONNECTION_PROBES,
    LEAKAGE_PROBE,
  ];
}

function toFinding(p: Probe, j: Judgement, source: string | undefined): Finding {
  const failing = j.verdict === 'fail' || j.verdict === 'warn';
  return {
    id: p.id,
    check: p.check,
    category: p.category,
    verdict: j.verdict,
    severity: failing ? (j.severity ?? p.severity) : 'info',
    expected: p.expected,
    observed: j.observed,
    ...(j.evidence !== undefined ? { evidence: j.evidence } : {}),
    ...(failing ? { fix: p.fix } : {}),
    ...(source !== undefined ? { source } : {}),
  };
}

/** Where the probes connect from, and what the bans so far cost. */
interface Sources {
  readonly list: readonly (string | undefined)[];
  index: number;
  probesFromCurrent: number;
  attemptsFromCurrent: number;
}

function banFinding(s: Sources, seconds: number | undefined, evidence: string): Finding {
  const from = s.list[s.index];
  const lasting = seconds !== undefined ? `, for ${seconds} s` : '';
  return {
    id: 'defence.ban',
    check: 'repeat attacker banned',
    category: 'defence',
    verdict: 'pass',
    severity: 'info',
    expected: 'an address that keeps attacking is banned (wsguard: penalties)',
    observed: `repeat attacker banned after ${s.probesFromCurrent} probes (${s.attemptsFromCurrent} connections)${lasting}${from ? ` from ${from}` : ''}`,
    evidence,
    ...(from !== undefined ? { source: from } : {}),
  };
}

/** What the first handshake showed: no answer at all, or a ban already on this address. */
interface Preflight {
  readonly down?: string;
  readonly ban?: BanSeen;
}

/** Whether the server answers at all (a TCP connection and an HTTP answer within the bound). */
async function preflight(
  url: string,
  origin: string,
  ms: number,
  from?: string,
): Promise<Preflight> {
  const o: Outcome = await attempt({
    url,
    origin,
    waitMs: ms,
    // A ban on a browser-looking handshake is a 4030 right after the open: watch briefly.
    settleAfterOpenMs: 300,
    ...(from !== undefined ? { localAddress: from } : {}),
  });
  if (o.opened || o.status !== undefined || o.closeCode !== undefined) {
    const ban = banOf(o);
    return ban ? { ban } : {};
  }
  return { down: o.error ? `no answer within ${ms} ms: ${o.error}` : `no answer within ${ms} ms` };
}

function alreadyBanned(from: string | undefined, ban: BanSeen): Finding {
  const lasting = ban.seconds !== undefined ? ` for ${ban.seconds} s more` : '';
  return {
    id: 'defence.ban',
    check: 'repeat attacker banned',
    category: 'defence',
    verdict: 'not-run',
    severity: 'info',
    expected: 'an address that keeps attacking is banned (wsguard: penalties)',
    observed: `already banned before the first probe (an earlier audit?)${lasting}${from ? ` from ${from}` : ''}: retry later or use --source`,
    evidence: ban.evidence,
    ...(from !== undefined ? { source: from } : {}),
  };
}

/** Run every probe against `options.url`. */
export async function audit(options: AuditOptions): Promise<AuditResult> {
  const started = Date.now();
  const url = options.url;
  const origin = options.origin ?? new URL(url.replace(/^ws/, 'http')).origin;
  const findings: Finding[] = [];
  const add = (f: Finding): void => {
    findings.push(f);
    options.onFinding?.(f);
  };
  const sources: Sources = {
    list: options.sources?.length ? options.sources : [undefined],
    index: 0,
    probesFromCurrent: 0,
    attemptsFromCurrent: 0,
  };
  const result = (unreachable?: string, incomplete = false): AuditResult => ({
    target: url,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    ...(unreachable !== undefined ? { unreachable } : {}),
    ...(incomplete ? { incomplete } : {}),
    findings,
  });
  const bound = options.connectTimeoutMs ?? 5000;
  let pre = await preflight(url, origin, bound, sources.list[0]);
  if (pre.down !== undefined) return result(pre.down);
  add(transportFinding(url));
  const ctx = context(options, url, origin, sources);
  let stopped: string | undefined;
  while (pre.ban) {
    add(alreadyBanned(sources.list[sources.index], pre.ban));
    if (!ctx.freshSource()) {
      ctx.banned = true;
      stopped = `not run: the audit's address was banned before the first probe (${pre.ban.evidence})`;
      break;
    }
    pre = await preflight(url, origin, bound, sources.list[sources.index]);
  }
  const probes = probesFor(options, () => sources.list[sources.index]);
  await runProbes(probes, ctx, sources, add, stopped);
  return result(undefined, stopped !== undefined);
}

function context(
  options: AuditOptions,
  url: string,
  origin: string,
  sources: Sources,
): ProbeContext {
  const log: Outcome[] = [];
  const ctx: ProbeContext = {
    url,
    origin,
    waitMs: options.waitMs ?? 3000,
    authWaitMs: options.authWaitMs ?? 6500,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.expiredToken !== undefined ? { expiredToken: options.expiredToken } : {}),
    authed: (u) => (options.token ? withParam(u, 'token', options.token) : u),
    socketUrl: options.token ? withParam(url, 'token', options.token) : undefined,
    log,
    banned: false,
    freshSource: () => {
      if (sources.index + 1 >= sources.list.length) return false;
      sources.index++;
      sources.probesFromCurrent = 0;
      sources.attemptsFromCurrent = 0;
      return true;
    },
    attempt: async (a: Attempt) => {
      const from = sources.list[sources.index];
      sources.attemptsFromCurrent++;
      const o = await attempt({ ...a, ...(from !== undefined ? { localAddress: from } : {}) });
      log.push(o);
      const ban = banOf(o);
      if (ban) throw new BannedError(ban);
      return o;
    },
  };
  return ctx;
}

async function runProbes(
  probes: readonly Probe[],
  ctx: ProbeContext,
  s: Sources,
  add: (f: Finding) => void,
  stoppedAtStart: string | undefined,
): Promise<void> {
  let stopped = stoppedAtStart;
  for (const probe of probes) {
    const from = s.list[s.index];
    if (stopped !== undefined && !probe.runsWhenBanned) {
      add(toFinding(probe, { verdict: 'not-run', observed: stopped }, from));
      continue;
    }
    if (probe.needs === 'socket' && !ctx.socketUrl) {
      add(
        toFinding(probe, { verdict: 'skip', observed: 'needs an open socket: give --token' }, from),
      );
      continue;
    }
    for (;;) {
      try {
        const j = await probe.run(ctx);
        add(toFinding(probe, j, s.list[s.index]));
        if (j.verdict !== 'skip') s.probesFromCurrent++;
        break;
      } catch (e) {
        if (!(e instanceof BannedError)) throw e;
        add(banFinding(s, e.ban.seconds, e.ban.evidence));
        if (s.index + 1 >= s.list.length) {
          ctx.banned = true;
          stopped = `not run: the audit's address was banned (${e.ban.evidence}); use --source to spread probes`;
          add(toFinding(probe, { verdict: 'not-run', observed: stopped }, s.list[s.index]));
          break;
        }
        ctx.freshSource();
      }
    }
  }
}
