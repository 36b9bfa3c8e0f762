/**
 * The model: what a connection's lifecycle should be, kept small. It holds, per socket, who it is
 * and what the guard owes it (its user, its deadlines, its invalid count); per IP and user, the
 * penalty points observed and the bans in force; and whether the store is up. From that it says
 * which outcomes a handshake, a frame or a refresh may have: one outcome where the contract fixes
 * it, a few where timing legitimately decides (a rate limit under a flood, a token that expires
 * this instant, a lease possibly left behind by an outage).
 *
 * Outcomes are strings: `accept`, `reject:<reason>`, `deliver`, `auth` (the credential message
 * was accepted), `reply:<reason>`, `close:<reason>`, and `code:<n>` (a close with that code,
 * whatever the reason is called), `ok`/`throw` for a refresh.
 */
import type { MessageDecision, Subject } from '../../src/mod.ts';
import {
  HALF_LIFE_MS,
  IP_CAP,
  MAX_INVALID,
  MESSAGE_RATE,
  POINTS,
  THRESHOLD,
  USER_CAP,
  USER_MESSAGE_RATE,
} from './config.ts';
import type { Token } from './tokens.ts';

/** What the model knows of one socket. */
export interface SockModel {
  /** Ordinal (same as the world's socket). */
  readonly n: number;
  /** Instance. */
  readonly instance: 0 | 1;
  /** Client address. */
  readonly ip: string;
  /** Its per-IP key (see config.ts `keyOf`). */
  readonly key: string;
  /** User named in the path. */
  readonly pathUser: string;
  /** Authenticated subject. */
  user: string | undefined;
  /** Waiting for its credential message. */
  pending: boolean;
  /** Accepted without credentials. */
  anonymous: boolean;
  /** Credential expiry (ms). */
  expiresAt: number | undefined;
  /** The auth deadline lies between these (the handshake's start and end + timeout). */
  authDeadline: readonly [number, number] | undefined;
  /** Invalid messages so far. */
  invalid: number;
  /** The socket is closing or closed (the world recorded its end). */
  ended: boolean;
  /** `guard.close` was called. */
  released: boolean;
}

/** A ban in force. */
export interface Ban {
  /** Who. */
  readonly subject: Subject;
  /** IP or user id. */
  readonly id: string;
  /** When the model learnt of it: the propagation bound runs from here. */
  readonly since: number;
  /** An admin's or the penalties'. */
  readonly source: 'admin' | 'auto';
}

/** A penalty score: `min` when every point decays as much as it could, `max` when none did. */
interface Score {
  min: number;
  max: number;
  first: number;
}

/** Whether the store answers: `transition` while a race takes it down (either may hold). */
export type StoreState = 'up' | 'down' | 'transition';

/** A frame the test can send. */
export type FrameKind = 'ok' | 'admin' | 'malformed' | 'big' | 'auth';

/** The outcome string of a message decision. */
export function outcomeOf(d: MessageDecision): string {
  if (d.action === 'deliver') return d.authenticated ? 'auth' : 'deliver';
  return `${d.action}:${d.reason}`;
}

/** Whether a decision is one of `allowed` (a close also matches `code:<its code>`). */
export function matches(allowed: ReadonlySet<string>, d: MessageDecision): boolean {
  if (allowed.has(outcomeOf(d))) return true;
  return d.action === 'close' && allowed.has(`code:${d.code}`);
}

const key = (subject: Subject, id: string): string => `${subject}:${id}`;

/** The model of one run. */
export class Model {
  /** Sockets, by ordinal. */
  readonly socks: SockModel[] = [];
  /** Bans in force. */
  bans: Ban[] = [];
  /** Admin bans started and not yet answered (a socket may be closed for them meanwhile). */
  readonly intents: { subject: Subject; id: string }[] = [];
  /** Store state. */
  store: StoreState = 'up';
  /** Leases possibly left behind (released while the store was down), by lease key. */
  readonly leaked = new Map<string, number>();
  /** Subjects whose score reached the threshold with no ban in force, and when. */
  readonly mustBan = new Map<string, number>();
  /** In a race: outcomes are judged by the contract and the invariants only. */
  loose = false;
  /** A kick in progress (its `terminate` calls run inside it). */
  kicking: { instance: 0 | 1; user: string } | undefined;
  /**
   * Refreshes in flight, by socket: the guard may close a socket for any of them. A count, not a
   * flag: two refreshes may race on one socket, and the first to end must not clear the other.
   */
  readonly refreshing = new Map<number, number>();
  /** Shutdown in progress. */
  shuttingDown = false;

  readonly #scores = new Map<string, Score>();

  /** The ban in force for `id`, if any. */
  ban(subject: Subject, id: string | undefined): Ban | undefined {
    if (id === undefined) return undefined;
    return this.bans.find((b) => b.subject === subject && b.id === id);
  }

  /** Whether a ban on `id` is in force or being set. */
  banning(subject: Subject, id: string | undefined): boolean {
    if (id === undefined) return false;
    return (
      this.ban(subject, id) !== undefined ||
      this.intents.some((b) => b.subject === subject && b.id === id)
    );
  }

  /** Record a ban. */
  addBan(subject: Subject, id: string, source: Ban['source'], now: number): void {
    this.mustBan.delete(key(subject, id));
    if (this.ban(subject, id)) return;
    this.bans.push({ subject, id, since: now, source });
  }

  /** Lift every ban on `id`. */
  unban(subject: Subject, id: string): void {
    this.bans = this.bans.filter((b) => !(b.subject === subject && b.id === id));
    this.mustBan.delete(key(subject, id));
  }

  /** The score bounds of `id` at `now`. */
  score(subject: Subject, id: string, now: number): { min: number; max: number } {
    const s = this.#scores.get(key(subject, id));
    if (!s) return { min: 0, max: 0 };
    return { min: s.min * 0.5 ** ((now - s.first) / HALF_LIFE_MS), max: s.max };
  }

  /**
   * A violation was observed. It counts only if the store took it (up: surely; in a transition:
   * maybe; down: the score never reached the store). `maybe` for the ones the contract leaves open.
   */
  violation(subject: Subject, id: string | undefined, what: string, now: number, maybe = false) {
    const p = POINTS[what] ?? 0;
    if (id === undefined || !(p > 0) || this.store === 'down') return;
    const k = key(subject, id);
    const s = this.#scores.get(k) ?? { min: 0, max: 0, first: now };
    this.#scores.set(k, s);
    s.max += p;
    if (this.store === 'up' && !maybe) s.min += p;
    if (this.score(subject, id, now).min >= THRESHOLD && !this.ban(subject, id))
      this.mustBan.set(k, now);
  }

  /** Sockets still open (not ending). */
  open(): SockModel[] {
    return this.socks.filter((s) => !s.ended);
  }

  /** Sockets the guard still holds (not released). */
  held(): SockModel[] {
    return this.socks.filter((s) => !s.released);
  }

  /** A possibly left-behind lease for each of the socket's lease keys. */
  leak(key: string, user: string | undefined): void {
    for (const k of [`lease:ip:${key}`, ...(user ? [`lease:user:${user}`] : [])])
      this.leaked.set(k, (this.leaked.get(k) ?? 0) + 1);
  }

  /** Cap outcome for a lease set: `full`, `maybe` (only left-behind leases fill it) or `free`. */
  #cap(k: string, live: number, max: number): 'full' | 'maybe' | 'free' {
    if (live >= max) return 'full';
    return live + (this.leaked.get(k) ?? 0) >= max ? 'maybe' : 'free';
  }

  #ipCap(key: string): 'full' | 'maybe' | 'free' {
    return this.#cap(`lease:ip:${key}`, this.held().filter((s) => s.key === key).length, IP_CAP);
  }

  #userCap(user: string): 'full' | 'maybe' | 'free' {
    const live = this.held().filter((s) => s.user === user).length;
    return this.#cap(`lease:user:${user}`, live, USER_CAP);
  }

  /** Outcomes of a handshake. */
  upgrade(p: {
    key: string;
    origin: 'app' | 'foreign' | 'none';
    pathUser: string;
    token: Token | undefined;
    now: number;
  }): Set<string> {
    const out = new Set<string>();
    // Stateless refusals come first: a foreign origin is refused without a store step.
    if (p.origin === 'foreign') return out.add('reject:origin');
    if (this.store === 'down') return out.add('reject:store_unavailable');
    if (this.store === 'transition') out.add('reject:store_unavailable');
    if (this.ban('ip', p.key)) return out.add('reject:banned');
    const caps = (user: string | undefined): Set<string> => {
      const ip = this.#ipCap(p.key);
      if (ip === 'full') return out.add('reject:ip_cap');
      if (ip === 'maybe') out.add('reject:ip_cap');
      if (user) {
        const u = this.#userCap(user);
        if (u === 'full') return out.add('reject:user_cap');
        if (u === 'maybe') out.add('reject:user_cap');
      }
      return out.add('accept');
    };
    const t = p.token;
    if (!t) return caps(undefined);
    if (t.kind === 'forged') return out.add('reject:credentials_invalid');
    if (t.expiresAt <= p.now) return out.add('reject:expired');
    if (t.expiresAt - p.now < 100) out.add('reject:expired');
    if (this.ban('user', t.sub)) return out.add('reject:banned');
    if (p.pathUser !== t.sub) return out.add('reject:path_mismatch');
    return caps(t.sub);
  }

  /** Outcomes of a frame on socket `m` (`admitted`: recent frames per socket and per user). */
  frame(
    m: SockModel,
    kind: FrameKind,
    token: Token | undefined,
    rate: { sock: number; user: number },
    now: number,
  ): Set<string> {
    const out = new Set<string>();
    if (m.expiresAt !== undefined) {
      if (now >= m.expiresAt + 5) return out.add('close:expired');
      if (now >= m.expiresAt - 50) out.add('close:expired');
    }
    if (m.pending && m.authDeadline) {
      if (now >= m.authDeadline[1] + 5) return out.add('close:auth_timeout');
      if (now >= m.authDeadline[0] - 5) out.add('close:auth_timeout');
    }
    // The guard may know of a ban before the socket's close is seen.
    if (this.ban('ip', m.key) || this.ban('user', m.user)) out.add('close:banned');
    if (kind === 'big') return out.add('close:too_big');
    // A rate refusal is plausible only after a burst's worth of frames within a window.
    if (rate.sock >= MESSAGE_RATE.burst) out.add('reply:message_rate').add('close:message_rate');
    if (m.user && rate.user >= USER_MESSAGE_RATE.burst)
      out.add('reply:user_message_rate').add('close:user_message_rate');
    if (m.pending) {
      if (kind !== 'auth' || !token) return out.add('close:credentials_missing');
      if (token.kind === 'forged') return out.add('close:credentials_invalid');
      if (token.expiresAt <= now) return out.add('close:expired');
      if (token.expiresAt - now < 100) out.add('close:expired');
      if (this.store === 'down') return out.add('close:store_unavailable');
      if (this.store === 'transition') out.add('close:store_unavailable');
      const banned = this.ban('user', token.sub) !== undefined;
      const mismatch = m.pathUser !== token.sub;
      const capped = this.#userCap(token.sub);
      // The order of these checks is the guard's choice: any of the refusals that apply will do.
      if (banned) out.add('close:banned');
      // The path binding holds for a credential message as for a handshake: 4003.
      if (mismatch) out.add('code:4003');
      if (capped !== 'free') out.add('close:user_cap');
      if (banned || mismatch || capped === 'full') return out;
      return out.add('auth');
    }
    if (kind === 'malformed')
      return out.add(m.invalid + 1 >= MAX_INVALID ? 'close:repeated_invalid' : 'reply:malformed');
    // An anonymous connection holds no permission at all.
    if (kind === 'admin' && m.user !== 'root') return out.add('reply:permission');
    return out.add('deliver');
  }

  /** Outcomes of `guard.refresh(m, token)`. */
  refresh(m: SockModel, token: Token, now: number): Set<string> {
    const out = new Set<string>(['throw']);
    if (token.kind === 'forged' || token.expiresAt <= now) return out;
    if (m.user !== undefined && m.user !== token.sub) return out;
    if (this.ban('user', token.sub) || this.ban('ip', m.key)) return out;
    if (m.user === undefined) {
      // Authenticating a connection that had no user: the handshake's checks, so the store must
      // answer, the path must match and the user must have room.
      if (this.store !== 'up' || m.pathUser !== token.sub) return out;
      if (this.#userCap(token.sub) === 'full') return out;
      return out.add('ok');
    }
    if (this.store === 'up' && token.expiresAt - now >= 100) out.delete('throw');
    return out.add('ok');
  }
}
