/**
 * Bans as this instance enforces them: a ban placed here or on any other instance on the store
 * closes the connections it covers (4030, with its end), and an upgrade or authentication racing
 * it is refused. Other instances' bans arrive on the store's control channel (Redis pub/sub:
 * milliseconds). Pub/sub is at most once: after an interrupted subscription, `resync` re-reads
 * the ban of every address and user connected here. A store without pub/sub is polled the same
 * way at every lease renewal (`sweep`).
 *
 * @module
 */
import { bannedReason } from '../core/ban-reason.ts';
import { CloseCode } from '../core/codes.ts';
import type { StoreSubscription } from '../store/contract.ts';
import { type BanMessage, CONTROL_CHANNEL, parseBanMessage } from './ban-message.ts';
import type { ConnectionState } from './connection.ts';
import type { GuardContext } from './context.ts';
import type { Penalties, Subject } from './penalties.ts';

/** Bans seen recently, held to refuse an upgrade racing the ban; bounded. */
const MAX_RECENT_BANS = 10_000;
const DONE: Promise<void> = Promise.resolve();

/** This instance's view of bans. */
export interface BanWatch {
  /**
   * The ban sequence: take it before a store read; {@link BanWatch.knownBan} then answers only
   * bans seen after it.
   */
  readonly seq: number;
  /**
   * The end of a running ban on `c`'s address or user that this instance saw after `since`, if
   * any.
   */
  knownBan(c: ConnectionState, userId: string | undefined, since: number): number | undefined;
  /** Enforce a new ban here and tell every other instance on the store. */
  enforce(subject: Subject, key: string, until: number): void;
  /** An unban, first step: stop refusing on the ban remembered here. */
  forget(subject: Subject, key: string): void;
  /** An unban, last step (after the store's): tell every other instance. */
  announceUnban(subject: Subject, key: string): Promise<void>;
  /** Subscribe to the control channel (once; at the first accepted connection). */
  listen(): void;
  /** Re-read the bans of everyone connected here, when the store has no pub/sub. */
  poll(): void;
  /** Unsubscribe and stop retrying. */
  close(): Promise<void>;
}

/** The ban watch of one guard; `bans` reads the store's ban list. */
export function createBanWatch(ctx: GuardContext, bans: Penalties): BanWatch {
  const { now, store, registry, report, settings } = ctx;
  const recent = createRecentBans(now);

  /** End the connections a ban covers, and remember it for the handshakes racing it. */
  const closeBanned = (subject: Subject, key: string, until: number): void => {
    if (!(until > now())) return;
    recent.remember(subject, key, until);
    const reason = bannedReason(until);
    for (const c of registry.live.values()) {
      if (c.closed || c.bannedUntil !== undefined) continue;
      if (subject === 'ip' ? c.ipKey !== key : c.principal?.sub !== key) continue;
      c.bannedUntil = until;
      // Not attached yet (the socket is opening): `attach` terminates it.
      c.terminate?.(CloseCode.Banned, reason);
    }
  };

  const publish = createPublisher(ctx);
  const onControl = (text: string): void => {
    const m = parseBanMessage(text);
    if (!m || m.from === ctx.instanceId || settings.dryRun) return;
    if (m.kind === 'unban') {
      recent.forget(m.subject, m.id);
      return;
    }
    // A hint, confirmed by the store before anyone is closed: the channel takes anyone's PUBLISH.
    bans.bannedUntil(m.subject, m.id).then((until) => {
      if (until !== undefined) closeBanned(m.subject, m.id, until);
    }, report('store'));
  };

  const sweeper = createSweeper(ctx, bans, closeBanned);
  let subscription: StoreSubscription | undefined;
  let subscribed = false;
  let polling = false;

  return {
    get seq() {
      return recent.seq;
    },
    knownBan: recent.knownBan,
    enforce(subject, key, until) {
      closeBanned(subject, key, until);
      void publish('ban', subject, key, until);
    },
    forget: recent.forget,
    announceUnban: (subject, key) => publish('unban', subject, key, 0),
    listen() {
      if (subscribed) return;
      subscribed = true;
      try {
        subscription = store.subscribe?.(CONTROL_CHANNEL, {
          message: onControl,
          resync: sweeper.sweep,
        });
      } catch (error) {
        report('store')(error);
      }
      // Shared stores only: guards on one unshared store without pub/sub have nobody to hear.
      polling = subscription === undefined && store.shared;
    },
    poll() {
      if (polling) sweeper.sweep();
    },
    async close() {
      const sub = subscription;
      subscription = undefined;
      subscribed = false;
      polling = false;
      sweeper.stop();
      await sub?.close().catch(report('store'));
    },
  };
}

/**
 * `subject:key` → a ban this instance has seen: its end, and `seq`, the value of the ban sequence
 * when it was seen. A handshake or authentication heeds only bans seen after it began (later than
 * its own store reads), so an entry made stale by an unban whose message was lost refuses nobody
 * who read the store since. Bounded by {@link MAX_RECENT_BANS}: expired entries go first, then
 * the oldest.
 */
function createRecentBans(now: () => number) {
  const bans = new Map<string, { until: number; seq: number }>();
  let seq = 0;
  return {
    get seq() {
      return seq;
    },
    remember(subject: Subject, key: string, until: number): void {
      const k = `${subject}:${key}`;
      bans.delete(k);
      bans.set(k, { until, seq: ++seq });
      if (bans.size <= MAX_RECENT_BANS) return;
      const t = now();
      for (const [bk, b] of bans) if (b.until <= t) bans.delete(bk);
      for (const bk of bans.keys()) {
        if (bans.size <= MAX_RECENT_BANS) break;
        bans.delete(bk);
      }
    },
    forget(subject: Subject, key: string): void {
      bans.delete(`${subject}:${key}`);
    },
    knownBan(c: ConnectionState, userId: string | undefined, since: number): number | undefined {
      if (seq === since || bans.size === 0) return undefined;
      const t = now();
      const ipBan = bans.get(`ip:${c.ipKey}`);
      if (ipBan !== undefined && ipBan.seq > since && ipBan.until > t) return ipBan.until;
      if (userId === undefined) return undefined;
      const userBan = bans.get(`user:${userId}`);
      return userBan !== undefined && userBan.seq > since && userBan.until > t
        ? userBan.until
        : undefined;
    },
  };
}

/**
 * The re-read of every connected address's and user's ban: what makes up for lost control
 * messages, so it is itself retried (with backoff) until the store answers.
 */
function createSweeper(
  ctx: GuardContext,
  bans: Penalties,
  closeBanned: (subject: Subject, key: string, until: number) => void,
): { sweep: () => void; stop: () => void } {
  const { registry, report, settings } = ctx;
  let sweeping = false;
  /** A sweep asked for and not completed (store away, or one already running): retried soon. */
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  const retrySoon = (): void => {
    if (retry !== undefined) return;
    const ms = Math.min(250 * 2 ** failures, Math.max(1000, Math.floor(settings.leaseTtl / 3)));
    retry = setTimeout(() => {
      retry = undefined;
      sweep();
    }, ms);
    (retry as { unref?: () => void }).unref?.();
  };
  const sweep = (): void => {
    if (registry.live.size === 0 || settings.dryRun) return;
    if (sweeping) {
      retrySoon();
      return;
    }
    sweeping = true;
    const ips = new Set<string>();
    const users = new Set<string>();
    for (const c of registry.live.values()) {
      ips.add(c.ipKey);
      if (c.principal) users.add(c.principal.sub);
    }
    const check = (subject: Subject, key: string) =>
      bans.bannedUntil(subject, key).then((until) => {
        if (until !== undefined) closeBanned(subject, key, until);
      });
    Promise.all([
      ...[...ips].map((k) => check('ip', k)),
      ...[...users].map((k) => check('user', k)),
    ])
      .then(
        () => {
          failures = 0;
        },
        (error: unknown) => {
          // The re-read is what makes up for lost messages: it must not be lost in turn.
          failures = Math.min(failures + 1, 8);
          report('store')(error);
          retrySoon();
        },
      )
      .finally(() => {
        sweeping = false;
      });
  };
  return {
    sweep,
    stop() {
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
    },
  };
}

/** Tell every other instance on the store (a store without pub/sub: nothing to tell). */
function createPublisher(
  ctx: GuardContext,
): (kind: BanMessage['kind'], subject: Subject, id: string, until: number) => Promise<void> {
  const { store, report, instanceId } = ctx;
  return (kind, subject, id, until) => {
    const message: BanMessage = { v: 1, from: instanceId, kind, subject, id, until };
    return (store.publish?.(CONTROL_CHANNEL, JSON.stringify(message)) ?? DONE).catch(
      report('store'),
    );
  };
}
