/**
 * Options to settings: defaults filled in, `false` turned into "off" (`undefined`), so no part of
 * the guard reads a raw option or knows a default.
 *
 * @module
 */
import type { RateRule } from '../core/rate-limit.ts';
import type { GuardSettings } from '../state/context.ts';
import { DEFAULTS, type GuardOptions } from './options.ts';

function ruleOf(value: RateRule | false | undefined, fallback: RateRule): RateRule | undefined {
  return value === false ? undefined : (value ?? fallback);
}

function capOf(value: number | false | undefined, fallback: number): number | undefined {
  return value === false ? undefined : (value ?? fallback);
}

/** The settings `options` (already diagnosed) come to. */
export function resolveSettings(options: GuardOptions): GuardSettings {
  const limits = options.limits ?? {};
  const m = options.messages ?? {};
  const passthrough = new Set(m.passthrough ?? []);
  // Longer frames cannot be in the set: no need to hash them to find out.
  let passthroughMax = 0;
  for (const p of passthrough)
    if (typeof p === 'string' && p.length > passthroughMax) passthroughMax = p.length;
  return {
    dryRun: options.dryRun ?? false,
    connectRate: ruleOf(limits.connectRate, DEFAULTS.connectRate),
    messageRate: ruleOf(limits.messageRate, DEFAULTS.messageRate),
    userRate: ruleOf(limits.userMessageRate, DEFAULTS.userMessageRate),
    ipCap: capOf(limits.maxConnectionsPerIp, DEFAULTS.maxConnectionsPerIp),
    userCap: capOf(limits.maxConnectionsPerUser, DEFAULTS.maxConnectionsPerUser),
    pendingCap: capOf(limits.maxPendingHandshakes, DEFAULTS.maxPendingHandshakes),
    leaseTtl: limits.leaseTtlMs ?? DEFAULTS.leaseTtlMs,
    singleSession: limits.singleSession ?? false,
    closeAfterRateHits: limits.closeAfterRateHits ?? DEFAULTS.closeAfterRateHits,
    maxBytes: m.maxBytes ?? DEFAULTS.maxBytes,
    maxDepth: m.maxDepth ?? DEFAULTS.maxDepth,
    maxEntries: m.maxEntries ?? DEFAULTS.maxEntries,
    maxIssues: m.maxIssues ?? DEFAULTS.maxIssues,
    maxInvalid: m.maxInvalid ?? DEFAULTS.maxInvalid,
    json: m.json ?? true,
    passthrough,
    passthroughMax,
    retryUnavailableSec: options.retryAfterUnavailableSec ?? 5,
    reconnectWindowMs: options.reconnectWindowMs ?? 0,
    pathBinding: options.pathBinding,
    requireSecure: options.requireSecure ?? false,
    allowAnonymous: options.allowAnonymous ?? false,
    rejectModes: options.rejectModes,
  };
}
