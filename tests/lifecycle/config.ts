/**
 * The one place the lifecycle property test is tuned: the bounds it holds the guard to, the small
 * caps and limits that make every path reachable in a few dozen steps, and the guard options both
 * instances share.
 */
import type { GuardOptions, Store } from '../../src/mod.ts';
import { SECRET } from './tokens.ts';

/**
 * How long a ban may take to close the banned IP's or user's connections on every instance. On
 * Redis the ban travels through the store's pub/sub (or a poll); on memory both instances share one
 * process, so it is close to immediate.
 */
export const PROPAGATION_MS: Readonly<Record<'memory' | 'redis', number>> = {
  memory: 100,
  redis: 1000,
};

/** How late a timer may fire on this busy 2-core machine before "it did not fire" is a failure. */
export const TIMER_SLACK_MS = 250;

/** Open connections per IP and per user: small, so the cap paths are hit. */
export const IP_CAP = 4;
/** See {@link IP_CAP}. */
export const USER_CAP = 3;

/** Per-connection message rate: a flood of a few dozen frames is refused. */
export const MESSAGE_RATE = { limit: 20, windowMs: 1000, burst: 10 } as const;
/** Per-user message rate (per instance). */
export const USER_MESSAGE_RATE = { limit: 40, windowMs: 1000, burst: 16 } as const;
/** Rate refusals in a row before the guard closes with 4029. */
export const CLOSE_AFTER_RATE_HITS = 3;
/** Largest frame; the "big" frame is over it. */
export const MAX_BYTES = 512;
/** Invalid messages before 1008. */
export const MAX_INVALID = 3;
/** First-message auth deadline. */
export const AUTH_TIMEOUT_MS = 2000;

/** Penalty threshold: between two integers, so a score that decays a little never sits on it. */
export const THRESHOLD = 9.5;
/** Half-life: long against a run (seconds), so scores are the sum of their points within 2 %. */
export const HALF_LIFE_MS = 600_000;
/** Automatic and admin bans outlast every run; `unban` is how a ban ends. */
export const BAN_MS = 60_000;
/** Points per violation, as the model counts them: the guard's defaults, except `permission`. */
export const POINTS: Readonly<Record<string, number>> = {
  origin: 0,
  credentials_invalid: 4,
  credentials_missing: 1,
  path_mismatch: 4,
  connect_rate: 2,
  message_rate: 2,
  malformed: 1,
  too_big: 5,
  permission: 3,
};

/** The allowed browser origin, and one that is not. */
export const ORIGIN = 'https://app.example.com';
/** See {@link ORIGIN}. */
export const FOREIGN_ORIGIN = 'https://evil.example';

/** Users; `root` holds the admin role, the others the user role. */
export const USERS = ['alice', 'bob', 'carol', 'root'] as const;
/** Client addresses: loopback IPv4 and two IPv6 addresses in different /64 networks. */
export const IPS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1', '2001:db8::7'] as const;

/**
 * The key the guard's per-IP defences (caps, scores, bans) use for an address of {@link IPS}:
 * an IPv4 address is its own key, an IPv6 address counts as its /64 (src/state/ip-key.ts, default
 * prefix). Written out rather than imported so the regression tests (IPv4 only) also load on
 * code from before the IPv6 keying; the property test checks it against `ipKey`.
 */
export function keyOf(ip: string): string {
  if (ip === '::1') return '::/64';
  if (ip === '2001:db8::7') return '2001:db8::/64';
  return ip;
}

/** How connections without a credential in the handshake are treated in a run. */
export type Variant = 'first-message' | 'anonymous';

/** The options both guard instances of a run share. */
export function guardOptions(
  store: Store,
  variant: Variant,
  sinks: Pick<GuardOptions, 'audit' | 'onError'>,
): GuardOptions {
  return {
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET, clockToleranceSec: 0 },
    credentials:
      variant === 'first-message'
        ? { header: true, firstMessage: { timeoutMs: AUTH_TIMEOUT_MS } }
        : { header: true },
    ...(variant === 'anonymous' ? { allowAnonymous: true } : {}),
    pathBinding: '/ws/:sub',
    store,
    limits: {
      // Generous: the connect limiter runs on every handshake, but never decides one here.
      connectRate: { limit: 10_000, windowMs: 1000, burst: 10_000 },
      messageRate: MESSAGE_RATE,
      userMessageRate: USER_MESSAGE_RATE,
      maxConnectionsPerIp: IP_CAP,
      maxConnectionsPerUser: USER_CAP,
      closeAfterRateHits: CLOSE_AFTER_RATE_HITS,
    },
    messages: {
      maxBytes: MAX_BYTES,
      maxInvalid: MAX_INVALID,
      permission: (m) =>
        typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'admin'
          ? 'admin.run'
          : undefined,
    },
    permissions: { roles: { user: ['chat.*'], admin: ['*'] } },
    penalties: {
      threshold: THRESHOLD,
      halfLifeMs: HALF_LIFE_MS,
      banMs: BAN_MS,
      points: { permission: POINTS['permission']! },
    },
    ...sinks,
  };
}
