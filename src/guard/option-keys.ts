/**
 * The table of every option key `createGuard` knows, typed against the option interfaces so it
 * cannot drift from them: a key added to an interface and not to the table (or named in the table
 * and not in the interface) fails to compile. The walk that refuses the other keys is
 * `option-unknown-keys.ts`.
 *
 * @module
 */

import type { RateRule } from '../core/rate-limit.ts';
import type { GuardOptions } from './options.ts';

/**
 * How the walk treats the value under one key:
 * - `'value'`: a primitive, array or function; an object found there has no keys to give, so each
 *   of its keys is refused.
 * - `'data'`: user data (keys, schemas, stores, role maps): never walked.
 * - a nested {@link KeyTable}: walked with the same rules when the value is an object.
 */
export type KeyRule = 'value' | 'data' | KeyTable;

/** The known keys of one options object, each with how its value is walked. */
export interface KeyTable {
  readonly [key: string]: KeyRule;
}

type Primitive = string | number | bigint | boolean | symbol | null | undefined;
type AnyFunction = (...args: never[]) => unknown;
/** The object part of an option's type: what could carry nested keys. */
type ObjectPart<V> = Exclude<V, Primitive | AnyFunction | readonly unknown[]>;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (
  i: infer I,
) => void
  ? I
  : never;
type IsUnion<T> = [T] extends [UnionToIntersection<T>] ? false : true;

/**
 * The rule an option of type `V` may have: `'value'` when `V` has no object part; otherwise
 * `'data'`, or a table of exactly its keys when that part is one object type (a union of object
 * types, e.g. `Jwk | CryptoKey`, can only be `'data'`: its keys are not one list).
 */
export type RuleFor<V> = [ObjectPart<V>] extends [never]
  ? 'value'
  : IsUnion<ObjectPart<V>> extends true
    ? 'data'
    : 'data' | TableOf<ObjectPart<V>>;

/** A table naming every key of `T` (optional ones too) and no other. */
export type TableOf<T> = { readonly [K in keyof T]-?: RuleFor<T[K]> };

/** The guard's tables nest three deep; the bound only stops a hand-built cyclic table. */
export const MAX_TABLE_DEPTH = 16;

const RATE_RULE: TableOf<RateRule> = {
  limit: 'value',
  windowMs: 'value',
  burst: 'value',
};

/**
 * Every key of {@link GuardOptions}, at every level. To add an option: add it to the interface,
 * then here (`npm run typecheck` names the missing key); `'value'` for a primitive, array or
 * function, `'data'` for user data, a nested table for an options object.
 */
export const GUARD_OPTION_KEYS: TableOf<GuardOptions> = {
  origins: 'value',
  missingOrigin: 'value',
  nullOrigin: 'value',
  dangerouslyAllowAnyOrigin: 'value',
  jwt: {
    algorithms: 'value',
    secret: 'data',
    publicKey: 'data',
    jwks: 'data',
    issuer: 'value',
    audience: 'value',
    allowAnyAudience: 'value',
    typ: 'value',
    clockToleranceSec: 'value',
    maxTokenAgeSec: 'value',
    requireIat: 'value',
    cache: 'value',
    principal: 'value',
  },
  tickets: { ttlMs: 'value', bindIp: 'value', bindOrigin: 'value' },
  credentials: {
    ticket: { param: 'value' },
    query: { param: 'value' },
    header: 'value',
    cookie: {
      name: 'value',
      csrf: { param: 'value', verify: 'value' },
      dangerouslyWithoutCsrf: 'value',
    },
    subprotocol: { prefix: 'value' },
    firstMessage: { timeoutMs: 'value', extract: 'value' },
  },
  allowAnonymous: 'value',
  pathBinding: 'value',
  ipv6Prefix: 'value',
  store: 'data',
  requireSharedStore: 'value',
  limits: {
    connectRate: RATE_RULE,
    messageRate: RATE_RULE,
    userMessageRate: RATE_RULE,
    maxConnectionsPerIp: 'value',
    maxConnectionsPerUser: 'value',
    maxPendingHandshakes: 'value',
    singleSession: 'value',
    leaseTtlMs: 'value',
    closeAfterRateHits: 'value',
    onStoreError: 'value',
  },
  messages: {
    maxBytes: 'value',
    maxDepth: 'value',
    maxEntries: 'value',
    maxIssues: 'value',
    json: 'value',
    passthrough: 'value',
    schema: 'data',
    permission: 'value',
    resource: 'value',
    maxInvalid: 'value',
  },
  // The role map's keys are the application's role names: not options.
  permissions: { roles: 'data', canAccess: 'value' },
  penalties: {
    threshold: 'value',
    halfLifeMs: 'value',
    banMs: 'value',
    points: {
      origin: 'value',
      credentials_invalid: 'value',
      credentials_missing: 'value',
      csrf: 'value',
      path_mismatch: 'value',
      connect_rate: 'value',
      message_rate: 'value',
      malformed: 'value',
      too_big: 'value',
      protocol: 'value',
      permission: 'value',
    },
  },
  audit: 'value',
  dryRun: 'value',
  requireSecure: 'value',
  rejectModes: {
    banned: 'value',
    connect_rate: 'value',
    origin: 'value',
    insecure_transport: 'value',
    credentials_missing: 'value',
    credentials_invalid: 'value',
    expired: 'value',
    csrf: 'value',
    path_mismatch: 'value',
    user_cap: 'value',
    ip_cap: 'value',
    store_unavailable: 'value',
    overloaded: 'value',
    internal: 'value',
  },
  retryAfterUnavailableSec: 'value',
  reconnectWindowMs: 'value',
  onError: 'value',
  principal: 'value',
  now: 'value',
};

/**
 * Names other WebSocket libraries use for a guard option, with the option's path: edit distance
 * alone cannot see that `maxPayload` (ws) means `messages.maxBytes`. Each target is checked
 * against the table by a test.
 */
export const GUARD_OPTION_ALIASES: Readonly<Record<string, string>> = {
  maxMessageSize: 'messages.maxBytes',
  maxPayload: 'messages.maxBytes', // ws
  maxPayloadLength: 'messages.maxBytes', // uWebSockets.js, Bun
  maxHttpBufferSize: 'messages.maxBytes', // socket.io
  allowedOrigins: 'origins',
  allowOrigins: 'origins',
  origin: 'origins', // cors
  rateLimit: 'limits',
  authTimeout: 'credentials.firstMessage.timeoutMs',
};
