/**
 * What every part of one guard shares, built once by the composition root (`createGuard`) and
 * handed to each factory: the resolved settings, the clock, the store, the registry and the
 * observability sinks. Nothing here changes after creation but the registry's contents.
 *
 * @module
 */
import type { RejectMode, RejectReason } from '../core/codes.ts';
import type { RateRule } from '../core/rate-limit.ts';
import type { AuditEmitter } from '../observability/audit.ts';
import type { Reporter } from '../observability/report.ts';
import type { Stats } from '../observability/stats.ts';
import type { Store } from '../store/contract.ts';
import type { ConnectionRegistry } from './registry.ts';

/** The options as the guard applies them: defaults filled in, `false` as `undefined`. */
export interface GuardSettings {
  /** Audit and count what would be refused, refuse nothing. */
  readonly dryRun: boolean;
  readonly connectRate: RateRule | undefined;
  readonly messageRate: RateRule | undefined;
  readonly userRate: RateRule | undefined;
  readonly ipCap: number | undefined;
  readonly userCap: number | undefined;
  /** Handshakes decided at once on this instance; past it, `overloaded`. */
  readonly pendingCap: number | undefined;
  readonly leaseTtl: number;
  readonly singleSession: boolean;
  readonly closeAfterRateHits: number;
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxEntries: number;
  readonly maxIssues: number;
  readonly maxInvalid: number;
  readonly json: boolean;
  readonly passthrough: ReadonlySet<string | unknown>;
  /** The longest passthrough frame: longer frames cannot be in the set. */
  readonly passthroughMax: number;
  readonly retryUnavailableSec: number;
  /** At shutdown, each 1001 says `retry in` a delay drawn from 0 to this. */
  readonly reconnectWindowMs: number;
  readonly pathBinding: string | undefined;
  readonly requireSecure: boolean;
  readonly allowAnonymous: boolean;
  readonly rejectModes: Partial<Record<RejectReason, RejectMode>> | undefined;
}

/** The shared parts of one guard. */
export interface GuardContext {
  readonly settings: GuardSettings;
  readonly now: () => number;
  /** The store as the guard uses it: fail-closed, with the local fallback when configured. */
  readonly store: Store;
  readonly registry: ConnectionRegistry;
  readonly stats: Stats;
  readonly audit: AuditEmitter;
  /** `audit: false`: the per-connection events of the hot paths are not even built. */
  readonly auditing: boolean;
  readonly report: Reporter;
  /** The key of every per-IP defence: one IPv6 prefix counts as one client. */
  readonly keyOfIp: (ip: string) => string;
  /** This guard's id on the store's control channel. */
  readonly instanceId: string;
}
