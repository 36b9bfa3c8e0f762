/**
 * Penalties: each violation adds points to a score per IP and per user that halves over time;
 * past a threshold the IP or user is banned for a while. Scores and bans live in the store, so
 * they hold across instances on a shared store.
 *
 * @module
 */
import { MAX_DATE_MS } from '../core/ban-reason.ts';
import type { Store } from '../store/contract.ts';

/** What earns points. */
export type Violation =
  | 'origin'
  | 'credentials_invalid'
  | 'credentials_missing'
  | 'csrf'
  | 'path_mismatch'
  | 'connect_rate'
  | 'message_rate'
  | 'malformed'
  | 'too_big'
  | 'protocol'
  | 'permission';

/** Penalty settings. */
export interface PenaltyOptions {
  /**
   * Score at which a ban starts.
   * @default 20
   */
  readonly threshold?: number;
  /**
   * Half-life of a score in ms: an honest client's occasional mistake fades.
   * @default 60000
   */
  readonly halfLifeMs?: number;
  /**
   * Ban length in ms.
   * @default 300000
   */
  readonly banMs?: number;
  /**
   * Points per violation; merged over the defaults. Think before giving `origin` points: a
   * browser sends the page's own `Origin`, so any web page could then get its visitors' addresses
   * banned by opening sockets to you; it is 0 by default for that reason.
   */
  readonly points?: Partial<Record<Violation, number>>;
}

/** Who is penalised. */
export type Subject = 'ip' | 'user';

/**
 * Default points: forgery weighs most; an expired session weighs nothing, and so does a foreign
 * origin: a browser sends the *page's* `Origin`, so a hostile page that opens sockets to the target
 * through its visitors' browsers would otherwise get those visitors' addresses (and everyone behind
 * the same NAT) banned. A foreign origin is refused before any stateful step and costs nobody
 * anything; a non-browser client can forge any `Origin`, so scoring it protects nothing.
 */
export const DEFAULT_POINTS: Readonly<Record<Violation, number>> = {
  origin: 0,
  credentials_invalid: 4,
  credentials_missing: 1,
  csrf: 5,
  path_mismatch: 4,
  // The rate limit already refuses the flood; points on top banned an office NAT whose clients
  // all reconnected at once after a deploy.
  connect_rate: 0,
  message_rate: 2,
  malformed: 1,
  too_big: 5,
  // RSV bits, unmasked or otherwise broken frames: no WebSocket library sends them by mistake.
  protocol: 5,
  permission: 1,
};

/** Outcome of recording a violation. */
export interface PenaltyResult {
  /** Score after the violation. */
  readonly score: number;
  /** When this violation started a ban: its end (ms since epoch). */
  readonly bannedUntil?: number;
}

/** The penalty service. */
export interface Penalties {
  /** The ban's end (ms since epoch) if `id` is banned, else `undefined`. */
  bannedUntil(subject: Subject, id: string): Promise<number | undefined>;
  /**
   * Record a violation; bans when the score is at or over the threshold and no ban is active
   * (in `dryRun`, reports the crossing only and stores nothing).
   */
  record(
    subject: Subject,
    id: string,
    violation: Violation,
    dryRun?: boolean,
  ): Promise<PenaltyResult>;
  /** Ban directly (an admin action). */
  ban(subject: Subject, id: string, ms?: number): Promise<number>;
  /** Lift a ban. */
  unban(subject: Subject, id: string): Promise<void>;
  /**
   * The score of `id` now (decayed; 0 when it has none), without adding to it: the store's add
   * with 0 points, which leaves a zero score behind for a subject that had none.
   */
  score(subject: Subject, id: string): Promise<number>;
  /** The score at which a ban starts. */
  readonly threshold: number;
}

/** Create the penalty service. */
export function createPenalties(
  store: Store,
  options: PenaltyOptions = {},
  now: () => number = Date.now,
): Penalties {
  const threshold = options.threshold ?? 20;
  const halfLife = options.halfLifeMs ?? 60_000;
  const banMs = options.banMs ?? 300_000;
  const points = { ...DEFAULT_POINTS, ...options.points };
  /** Check-and-ban in progress on this instance, by ban key. */
  const banning = new Map<string, Promise<number | undefined>>();

  const ban = async (subject: Subject, id: string, ms = banMs): Promise<number> => {
    if (!(ms > 0)) throw new RangeError(`ban length: ${ms} ms is not a positive number`);
    // At most the last time `Date` can show: "for ever" (Infinity, MAX_SAFE_INTEGER) is that,
    // never an end every later step fails to format or reads as no ban.
    const t = now();
    const until = Math.min(t + ms, MAX_DATE_MS);
    await store.set(banKey(subject, id), String(until), until - t);
    return until;
  };

  const bannedUntil = bannedUntilOf(store, now);

  return {
    bannedUntil,
    async record(
      subject: Subject,
      id: string,
      violation: Violation,
      dryRun = false,
    ): Promise<PenaltyResult> {
      const p = points[violation];
      if (!(p > 0)) return { score: 0 };
      const score = await store.addScore(`score:${subject}:${id}`, p, halfLife);
      if (score < threshold) return { score };
      // Dry run stores no ban, so "no ban active" would hold at every violation: report the
      // crossing only.
      if (dryRun) return score - p < threshold ? { score, bannedUntil: now() + banMs } : { score };
      // At or over the threshold and no ban active: ban. Not only at the crossing: a score held
      // above the threshold (violations from a socket opened before the ban, a ban that ended
      // while the score had not decayed) must ban again, or the attacker scores forever after one
      // ban. Two instances racing here may both set the ban; the later end wins, which is harmless.
      // Violations racing here on this instance (a flood's frames, each a store round trip
      // behind) share one check-and-ban: one ban, one audit event, one count, not one each.
      const key = banKey(subject, id);
      const inFlight = banning.get(key);
      if (inFlight !== undefined) {
        await inFlight;
        return { score };
      }
      const banned = (async () =>
        (await bannedUntil(subject, id)) === undefined ? await ban(subject, id) : undefined)();
      banning.set(key, banned);
      try {
        const until = await banned;
        return until === undefined ? { score } : { score, bannedUntil: until };
      } finally {
        banning.delete(key);
      }
    },
    ban,
    async unban(subject: Subject, id: string): Promise<void> {
      await store.delete(banKey(subject, id));
    },
    // Adding nothing is the store's one atomic way to read a decaying score.
    score: (subject, id) => store.addScore(`score:${subject}:${id}`, 0, halfLife),
    threshold,
  };
}

/** Where the ban of `id` lives in the store. */
const banKey = (s: Subject, id: string): string => `ban:${s}:${id}`;

/**
 * {@link Penalties.bannedUntil} over `store`: one `then` on the store's step, not an async
 * function awaiting it. It runs twice on every handshake (the IP's ban, the user's), where each
 * async layer is a promise and a job more.
 */
function bannedUntilOf(store: Store, now: () => number): Penalties['bannedUntil'] {
  /** The stored value as a ban's end, if it is one that has not ended. */
  const liveUntil = (v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const until = Number(v);
    return Number.isFinite(until) && until > now() ? until : undefined;
  };
  return (subject, id) => {
    // A store that throws instead of rejecting still rejects here, as an async function would.
    try {
      return store.get(banKey(subject, id)).then(liveUntil);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
