/**
 * The start-up doctor: refuses unsafe or malformed option combinations with an error that says
 * how to fix each one, so that a misconfiguration fails at boot, not in production traffic.
 *
 * @module
 */

import { validateJwtOptions } from '../auth/jwt-options.ts';
import { validateTicketOptions } from '../auth/tickets.ts';
import type { RateRule } from '../core/rate-limit.ts';
import { validateOrigins } from '../handshake/origin.ts';
import { validateIpv6Prefix } from '../state/ip-key.ts';
import { GUARD_OPTION_ALIASES, GUARD_OPTION_KEYS } from './option-keys.ts';
import { unknownKeys } from './option-unknown-keys.ts';
import type { GuardOptions } from './options.ts';

function positive(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function checkRule(name: string, rule: RateRule | false | undefined, problems: string[]): void {
  if (rule === undefined || rule === false) return;
  if (
    !positive(rule.limit) ||
    !positive(rule.windowMs) ||
    (rule.burst !== undefined && !positive(rule.burst))
  ) {
    problems.push(
      `limits.${name}: limit, windowMs and burst must be positive finite numbers (or set false to turn it off)`,
    );
  }
}

/** The options as the doctor reads them: any key may be present, whatever its type says. */
type Loose = GuardOptions & Record<string, unknown>;

/** Origins: required, valid, and '*' only by name. */
function checkOrigins(o: Loose, problems: string[]): void {
  if (o.dangerouslyAllowAnyOrigin) return;
  if (o.origins === undefined) {
    problems.push(
      "origins: missing; list the origins your pages are served from, e.g. origins: ['https://app.example.com'] (without it any site could open sockets as your users)",
    );
  } else if (!Array.isArray(o.origins)) {
    problems.push('origins: must be an array of origin strings');
  } else if (o.origins.length === 0) {
    problems.push('origins: the allowlist is empty; an empty list is never taken as "allow all"');
  } else {
    problems.push(...validateOrigins(o.origins));
  }
}

/** Authentication: some credential is configured, and each is valid. */
function checkAuthentication(o: Loose, problems: string[]): void {
  const tickets = o.tickets;
  if (!o.jwt && !tickets && !o.allowAnonymous) {
    problems.push(
      'authentication: configure jwt and/or tickets, or set allowAnonymous: true for a public socket',
    );
  }
  if (o.jwt) problems.push(...validateJwtOptions(o.jwt));
  if (tickets && typeof tickets === 'object') problems.push(...validateTicketOptions(tickets));
}

/** Where credentials come from: each source has what it needs to be safe. */
function checkCredentials(o: Loose, problems: string[]): void {
  const creds = o.credentials ?? {};
  if (creds.cookie) {
    if (o.dangerouslyAllowAnyOrigin) {
      problems.push(
        'credentials.cookie: cookie auth with every origin allowed is cross-site WebSocket hijacking by design; list your origins',
      );
    }
    if (!creds.cookie.csrf && !creds.cookie.dangerouslyWithoutCsrf) {
      problems.push(
        'credentials.cookie: add csrf: { verify } so the page proves it is yours (a cookie alone is sent by any site), or set dangerouslyWithoutCsrf: true',
      );
    }
    if (!o.jwt)
      problems.push('credentials.cookie: the cookie holds a JWT; configure jwt to verify it');
  }
  if ((creds.header || creds.query || creds.subprotocol) && !o.jwt) {
    problems.push(
      'credentials: token sources (header, query, subprotocol) need jwt to verify them',
    );
  }
  if (
    creds.firstMessage &&
    typeof creds.firstMessage === 'object' &&
    creds.firstMessage.timeoutMs !== undefined
  ) {
    const t = creds.firstMessage.timeoutMs;
    if (!positive(t) || t > 60_000) {
      problems.push(
        'credentials.firstMessage.timeoutMs: set a timeout of at most 60000 ms; an unauthenticated socket must not stay open',
      );
    }
  }
}

/** Messages: every bound a positive integer. */
function checkMessages(o: Loose, problems: string[]): void {
  const m = o.messages ?? {};
  for (const key of ['maxBytes', 'maxDepth', 'maxEntries', 'maxIssues', 'maxInvalid'] as const) {
    const v = m[key];
    if (v !== undefined && (!positive(v) || !Number.isInteger(v))) {
      problems.push(
        `messages.${key}: ${String(v)} is not a positive integer; unbounded messages let one client exhaust memory or stack`,
      );
    }
  }
}

/** Limits: rate rules, caps and what happens when the store fails. */
function checkLimits(o: Loose, problems: string[]): void {
  const l = o.limits ?? {};
  checkRule('connectRate', l.connectRate, problems);
  checkRule('messageRate', l.messageRate, problems);
  checkRule('userMessageRate', l.userMessageRate, problems);
  for (const key of [
    'maxConnectionsPerIp',
    'maxConnectionsPerUser',
    'maxPendingHandshakes',
    'leaseTtlMs',
    'closeAfterRateHits',
  ] as const) {
    const v = l[key];
    if (v !== undefined && v !== false && (!positive(v) || !Number.isInteger(v))) {
      problems.push(
        `limits.${key}: ${String(v)} is not a positive integer (or false to turn it off)`,
      );
    }
  }

  // The refusal window keeps one time per counted refusal, per connection.
  if (Number.isInteger(l.closeAfterRateHits) && (l.closeAfterRateHits as number) > 1000)
    problems.push(
      `limits.closeAfterRateHits: ${l.closeAfterRateHits} is over 1000; each connection keeps that many refusal times`,
    );

  if (
    l.onStoreError !== undefined &&
    l.onStoreError !== 'fail-closed' &&
    l.onStoreError !== 'local'
  ) {
    problems.push(
      `limits.onStoreError: ${JSON.stringify(l.onStoreError)} is not 'fail-closed' or 'local'`,
    );
  }
}

/** Deployment: the path binding's route, and a shared store where several instances need one. */
function checkDeployment(o: Loose, problems: string[]): void {
  if (
    o.pathBinding !== undefined &&
    (typeof o.pathBinding !== 'string' || !o.pathBinding.includes('/:'))
  ) {
    problems.push("pathBinding: write a route with one parameter, e.g. '/ws/:sub'");
  }
  if (o.requireSharedStore && o.store && !o.store.shared) {
    problems.push(
      `store: "${o.store.name}" is not shared between processes, so tickets, caps and limits would hold per instance only; use the Redis store`,
    );
  }
  const w = o.reconnectWindowMs;
  if (w !== undefined && !(typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
    problems.push(
      `reconnectWindowMs: ${String(w)} is not a number of ms >= 0 (0: clients reconnect at once after a shutdown)`,
    );
  }
  if (o.requireSharedStore && !o.store) {
    problems.push(
      'store: several instances need a shared store (the Redis store); the default memory store is per process',
    );
  }
}

/**
 * Every problem with `options`, each with its fix; empty when the options are safe. Unknown keys
 * at any level come first, each with the nearest valid name (see `unknownKeys`): a misspelled
 * security option is a defence silently missing.
 */
export function diagnose(options: GuardOptions): string[] {
  // Unknown keys first: a misspelled option is often the cause of a "missing" one reported below.
  const problems: string[] = unknownKeys(options, GUARD_OPTION_KEYS, '', GUARD_OPTION_ALIASES);
  const o = options as Loose;
  checkOrigins(o, problems);
  problems.push(...validateIpv6Prefix(o.ipv6Prefix));
  checkAuthentication(o, problems);
  checkCredentials(o, problems);
  checkMessages(o, problems);
  checkLimits(o, problems);
  checkDeployment(o, problems);
  return problems;
}
