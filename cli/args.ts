/**
 * The command line, parsed strictly with `node:util` `parseArgs`, one schema per command. Numbers are
 * checked: a bad value is a usage error that names the option. `--help` and `--version` work on
 * every command.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { SEVERITIES, type Severity } from './finding.ts';
import { FRAMEWORKS, type Framework, frameworkProblem, RUNTIMES_OF } from './init-frameworks.ts';
import { parseSources } from './sources.ts';

/**
 * Exit codes, a contract for scripts and CI. `incomplete` (4): the audit could run no probe (its
 * every source address was banned before the first one), so it cannot say "secure": a CI gate
 * must not pass on nothing tested.
 */
export const Exit = { ok: 0, insecure: 1, usage: 2, unreachable: 3, incomplete: 4 } as const;

/** Options of `wsguard audit`. */
export interface AuditArgs {
  readonly url: string;
  readonly origin?: string;
  readonly token?: string;
  readonly expiredToken?: string;
  /** A PEM file with the server's public key (read by main, for the RS256 → HS256 probe). */
  readonly publicKey?: string;
  /** The server's key set URL (same probe). */
  readonly jwks?: string;
  /** Where tickets are issued (`POST`): enables the ticket replay and lifetime probes. */
  readonly ticketUrl?: string;
  /** The longest lifetime a ticket may state, seconds. */
  readonly ticketMaxAgeSec: number;
  readonly waitMs: number;
  readonly authWaitMs: number;
  readonly connectTimeoutMs: number;
  readonly failOn: Severity;
  readonly sources?: string[];
  /** A project directory whose lock file and code are checked too. */
  readonly project?: string;
  readonly json: boolean;
  readonly md?: string;
  readonly quiet: boolean;
}

/** Options of `wsguard health`. */
export interface HealthArgs {
  readonly url: string;
  readonly origin?: string;
  readonly token?: string;
  readonly connectTimeoutMs: number;
  readonly json: boolean;
}

/** Options of `wsguard init`. */
export interface InitArgs {
  readonly runtime: 'node' | 'bun' | 'deno';
  /** The web framework the scaffold mounts the guard on (its `wsguard/<framework>` integration). */
  readonly framework?: Framework;
  readonly trpc: boolean;
  readonly redis: boolean;
  readonly force: boolean;
  readonly dir: string;
}

/** What the command line asks for. */
export type Parsed =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string; readonly text: string }
  | { readonly kind: 'audit'; readonly args: AuditArgs }
  | { readonly kind: 'health'; readonly args: HealthArgs }
  | { readonly kind: 'init'; readonly args: InitArgs };

/** The top-level help. */
export const USAGE = `usage: wsguard <command> [options]

commands:
  audit <ws-url>    probe an endpoint with hijacking, credential, message, compression and
                    flooding attacks
  health <ws-url>   connect, authenticate, round-trip, close and reconnect; report the times
  init              scaffold a guarded server (serve() or a framework), its ticket route and a
                    client into a project

every command: --help, -h    --version
exit codes: 0 ok, 1 insecure / unhealthy, 2 usage, 3 unreachable, 4 incomplete (nothing tested)`;

const AUDIT_USAGE = `usage: wsguard audit <ws-url> [options]

  --origin <origin>        an origin the server accepts (default: the target's own)
  --token <jwt>            a valid token (sent as ?token=); enables the authenticated probes
  --expired-token <jwt>    an expired token from your issuer (the audit cannot sign one)
  --public-key <file.pem>  the server's public key: tries RS256 -> HS256 confusion with it
  --jwks <url>             the server's key set (fetched within --connect-timeout), for the
                           same probe
  --ticket-url <url>       the POST route that issues tickets (--token sent as Bearer):
                           checks a ticket is one-time and short-lived
  --ticket-max-age <s>     the longest lifetime a ticket may state (default 60)
  --wait <ms>              how long to watch each connection (default 3000)
  --auth-wait <ms>         how long to watch an anonymous socket for its auth deadline (6500)
  --connect-timeout <ms>   bound on reaching the server at all (default 5000)
  --fail-on <severity>     info|low|medium|high: exit 1 at or above it (default high)
  --source <range>         local addresses to spread probes over, e.g. 127.0.0.2-127.0.0.40
  --project <dir>          also check the project's lock file for WebSocket packages with known
                           advisories, and its code for defences turned off
  --json                   print the report as JSON (schema: cli/report.schema.json)
  --md <file>              also write a Markdown report
  --quiet                  no progress on stderr`;

const HEALTH_USAGE = `usage: wsguard health <ws-url> [options]

  --origin <origin>        the Origin to send (default: the target's own)
  --token <jwt>            the credential (sent as ?token=)
  --connect-timeout <ms>   bound on each step (default 5000)
  --json                   print the result as JSON`;

const INIT_USAGE = `usage: wsguard init [options]

  --runtime <node|bun|deno>   the server's runtime (default node; with --framework, its first)
  --framework <name>          mount the guard on hono|express|fastify|elysia|h3|ws (its
                              wsguard/<name> integration); elysia needs bun; express, fastify,
                              h3 and ws need node; hono runs on all three
  --trpc                      a tRPC v11 router and client instead of plain JSON
  --redis                     the guard's state in Redis (several instances)
  --dir <dir>                 the project directory (default .); files go to <dir>/wsguard/
  --force                     overwrite existing files (without it they are kept and listed)`;

const INIT_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  runtime: { type: 'string' },
  framework: { type: 'string' },
  trpc: { type: 'boolean' },
  redis: { type: 'boolean' },
  force: { type: 'boolean' },
  dir: { type: 'string' },
} as const;

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  origin: { type: 'string' },
  token: { type: 'string' },
  'connect-timeout': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const AUDIT_OPTIONS = {
  ...COMMON,
  'expired-token': { type: 'string' },
  'public-key': { type: 'string' },
  jwks: { type: 'string' },
  'ticket-url': { type: 'string' },
  'ticket-max-age': { type: 'string' },
  wait: { type: 'string' },
  'auth-wait': { type: 'string' },
  'fail-on': { type: 'string' },
  source: { type: 'string' },
  project: { type: 'string' },
  md: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

class UsageError extends Error {}

/** A whole number of `unit` within [min, max], or a usage error naming the option. */
function ms(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = 1,
  max = 600_000,
  unit = 'milliseconds',
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: ${JSON.stringify(raw)} is not ${unit} in ${min}..${max}`);
  return n;
}

/** An `http(s)://` URL, or a usage error naming the option. */
function httpUrl(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:')
    throw new UsageError(`--${name}: ${JSON.stringify(raw)} is not an http:// or https:// URL`);
  return raw;
}

function target(positionals: string[], command: string): string {
  const [url, ...extra] = positionals;
  if (url === undefined) throw new UsageError(`${command}: missing <ws-url>`);
  if (extra.length > 0) throw new UsageError(`${command}: unexpected argument ${extra[0]}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${command}: ${url} is not a URL`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')
    throw new UsageError(`${command}: ${url} is not a ws:// or wss:// URL`);
  return url;
}

function origin(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'null') return raw;
  try {
    return new URL(raw).origin === 'null' ? raw : new URL(raw).origin;
  } catch {
    throw new UsageError(`--origin: ${JSON.stringify(raw)} is not an origin (https://host[:port])`);
  }
}

function auditArgs(argv: string[]): Parsed {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: AUDIT_OPTIONS,
    strict: true,
    allowPositionals: true,
  });
  if (v.help) return { kind: 'help', text: AUDIT_USAGE };
  if (v.version) return { kind: 'version' };
  const failOn = v['fail-on'] ?? 'high';
  if (!(SEVERITIES as readonly string[]).includes(failOn))
    throw new UsageError(
      `--fail-on: ${JSON.stringify(failOn)} is not one of ${SEVERITIES.join('|')}`,
    );
  let sources: string[] | undefined;
  try {
    sources = v.source === undefined ? undefined : parseSources(v.source);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o = origin(v.origin);
  const jwks = httpUrl('jwks', v.jwks);
  const ticketUrl = httpUrl('ticket-url', v['ticket-url']);
  const args: AuditArgs = {
    url: target(positionals, 'audit'),
    ...(o !== undefined ? { origin: o } : {}),
    ...(v.token !== undefined ? { token: v.token } : {}),
    ...(v['expired-token'] !== undefined ? { expiredToken: v['expired-token'] } : {}),
    ...(v['public-key'] !== undefined ? { publicKey: v['public-key'] } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
    ...(ticketUrl !== undefined ? { ticketUrl } : {}),
    ticketMaxAgeSec: ms('ticket-max-age', v['ticket-max-age'], 60, 1, 86_400, 'seconds'),
    waitMs: ms('wait', v.wait, 3000, 50),
    authWaitMs: ms('auth-wait', v['auth-wait'], 6500, 50),
    connectTimeoutMs: ms('connect-timeout', v['connect-timeout'], 5000, 50),
    failOn: failOn as Severity,
    ...(sources ? { sources } : {}),
    ...(v.project !== undefined ? { project: v.project } : {}),
    json: v.json ?? false,
    ...(v.md !== undefined ? { md: v.md } : {}),
    quiet: v.quiet ?? false,
  };
  return { kind: 'audit', args };
}

function healthArgs(argv: string[]): Parsed {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: COMMON,
    strict: true,
    allowPositionals: true,
  });
  if (v.help) return { kind: 'help', text: HEALTH_USAGE };
  if (v.version) return { kind: 'version' };
  const o = origin(v.origin);
  const args: HealthArgs = {
    url: target(positionals, 'health'),
    ...(o !== undefined ? { origin: o } : {}),
    ...(v.token !== undefined ? { token: v.token } : {}),
    connectTimeoutMs: ms('connect-timeout', v['connect-timeout'], 5000, 50),
    json: v.json ?? false,
  };
  return { kind: 'health', args };
}

function initArgs(argv: string[]): Parsed {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: INIT_OPTIONS,
    strict: true,
    allowPositionals: true,
  });
  if (v.help) return { kind: 'help', text: INIT_USAGE };
  if (v.version) return { kind: 'version' };
  if (positionals.length > 0) throw new UsageError(`init: unexpected argument ${positionals[0]}`);
  const framework = v.framework;
  if (framework !== undefined && !(FRAMEWORKS as readonly string[]).includes(framework))
    throw new UsageError(
      `--framework: ${JSON.stringify(framework)} is not one of ${FRAMEWORKS.join('|')}`,
    );
  const fw = framework as Framework | undefined;
  // Without --runtime, a framework's first runtime (elysia: bun), else node.
  const runtime = v.runtime ?? (fw !== undefined ? RUNTIMES_OF[fw][0] : 'node');
  if (runtime !== 'node' && runtime !== 'bun' && runtime !== 'deno')
    throw new UsageError(`--runtime: ${JSON.stringify(runtime)} is not one of node|bun|deno`);
  const problem = fw !== undefined ? frameworkProblem(fw, runtime, v.trpc ?? false) : undefined;
  if (problem !== undefined) throw new UsageError(problem);
  const args: InitArgs = {
    runtime,
    ...(fw !== undefined ? { framework: fw } : {}),
    trpc: v.trpc ?? false,
    redis: v.redis ?? false,
    force: v.force ?? false,
    dir: v.dir ?? '.',
  };
  return { kind: 'init', args };
}

const HELP: Record<string, string> = { audit: AUDIT_USAGE, health: HEALTH_USAGE, init: INIT_USAGE };

/** Parse `argv` (without the node and script paths). Never throws. */
export function parseCli(argv: readonly string[]): Parsed {
  const [command, ...rest] = argv;
  const help = (command !== undefined && HELP[command]) || USAGE;
  try {
    if (command === 'audit') return auditArgs(rest);
    if (command === 'health') return healthArgs(rest);
    if (command === 'init') return initArgs(rest);
    if (command === '--help' || command === '-h' || command === 'help')
      return { kind: 'help', text: USAGE };
    if (command === '--version') return { kind: 'version' };
    if (command === undefined) throw new UsageError('missing command');
    throw new UsageError(`unknown command: ${command}`);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { kind: 'usage-error', message, text: help };
  }
}
