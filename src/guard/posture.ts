/**
 * The guard's posture in one line, for a server's start-up log: which origins it admits, where
 * it reads credentials and how it verifies them, the store (and whether instances share it), and
 * the limits in force. An operator reads in one glance whether this is the configuration they
 * meant (a forgotten `requireSecure`, a memory store behind a load balancer). It never contains a
 * secret: only algorithm names, sources and numbers.
 *
 * @module
 */
import type { CredentialSources } from '../handshake/credentials.ts';
import type { GuardSettings } from '../state/context.ts';
import type { Store } from '../store/contract.ts';
import type { GuardOptions } from './options.ts';

const SOURCES = ['header', 'query', 'cookie', 'subprotocol', 'firstMessage'] as const;

function credentialsOf(sources: CredentialSources, tickets: boolean, anonymous: boolean): string {
  const on: string[] = SOURCES.filter((s) => Boolean(sources[s]));
  if (tickets && sources.ticket !== false) on.push('ticket');
  if (anonymous) on.push('anonymous allowed');
  return on.length > 0 ? on.join(', ') : 'none';
}

function rate(rule: { limit: number; windowMs: number } | undefined): string {
  return rule ? `${rule.limit}/${rule.windowMs / 1000}s` : 'off';
}

function bytes(n: number): string {
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

/** One line describing what `options` (resolved to `settings`, on `store`) admits and bounds. */
export function describePosture(
  options: GuardOptions,
  settings: GuardSettings,
  store: Store,
): string {
  const origins = options.dangerouslyAllowAnyOrigin
    ? 'ANY (dangerouslyAllowAnyOrigin)'
    : (options.origins ?? []).join(' ') || 'none';
  const tickets = Boolean(options.tickets);
  const sources = options.credentials ?? { header: Boolean(options.jwt) };
  const verify = [
    options.jwt ? `jwt ${(options.jwt.algorithms ?? []).join('/')}` : undefined,
    tickets ? 'tickets' : undefined,
    options.principal ? 'principal hook' : undefined,
  ].filter((v) => v !== undefined);
  const caps = [
    settings.ipCap === undefined ? 'per IP off' : `${settings.ipCap} per IP`,
    settings.userCap === undefined ? 'per user off' : `${settings.userCap} per user`,
  ];
  return [
    `origins ${origins}`,
    `credentials ${credentialsOf(sources, tickets, settings.allowAnonymous)}`,
    `verify ${verify.join(' + ') || 'nothing'}`,
    `store ${store.name}${store.shared ? ' (shared)' : ' (this instance only)'}`,
    `connect ${rate(settings.connectRate)}, ${caps.join(', ')}`,
    `frames ≤ ${bytes(settings.maxBytes)}, ${rate(settings.messageRate)}`,
    settings.requireSecure ? 'TLS required' : 'TLS not required',
    ...(settings.dryRun ? ['DRY RUN (refusals logged, not enforced)'] : []),
  ].join(' · ');
}
