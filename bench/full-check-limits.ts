/**
 * The limits of every guarded bench server: every rate and cap check on, with budgets no run can
 * exhaust, so that each check runs on every handshake and frame and none short-cuts by refusing.
 *
 * @module
 */

/** A rate no bench reaches: a billion a second, with a burst as large. */
export const HIGH = { limit: 1e9, windowMs: 1000, burst: 1e9 } as const;

/** `limits` for `createGuard`: the connection rate, both message rates and both caps, all on. */
export const FULL_CHECK_LIMITS = {
  connectRate: HIGH,
  messageRate: HIGH,
  userMessageRate: HIGH,
  maxConnectionsPerIp: 1_000_000,
  maxConnectionsPerUser: 1_000_000,
} as const;
