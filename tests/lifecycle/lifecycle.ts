/**
 * One run of the lifecycle test: the world (real guards, real store, fake sockets) and the model,
 * stepped together. Each operation predicts its outcome from the model, performs it on the world,
 * compares, updates the model from what happened, then settles and checks every invariant. What
 * the world reports as it happens (a `terminate`, a decision, an audit event) is judged at once:
 * close codes against the contract and against their cause, deliveries against closes, bans and
 * expiry.
 */
import {
  type AuditEvent,
  CloseCode,
  type GuardConnection,
  isGuardError,
  MESSAGE_CLOSE_CODES,
  type MessageDecision,
  REJECTIONS,
  type Subject,
} from '../../src/mod.ts';
import {
  AUTH_TIMEOUT_MS,
  BAN_MS,
  FOREIGN_ORIGIN,
  IPS,
  keyOf,
  MAX_BYTES,
  MESSAGE_RATE,
  ORIGIN,
  PROPAGATION_MS,
  THRESHOLD,
  TIMER_SLACK_MS,
  USERS,
  type Variant,
} from './config.ts';
import { checkInvariants } from './invariants.ts';
import { type FrameKind, Model, matches, outcomeOf, type SockModel } from './model.ts';
import { type TokenKind, token } from './tokens.ts';
import type { Observer, RedisRig, SentFrame, Sock, StoreKind } from './world.ts';
import { World } from './world.ts';

/** Every close code of the contract. */
const CONTRACT = new Set<number>(Object.values(CloseCode));

/** A handshake's parameters. */
export interface ConnectParams {
  /** Instance. */
  readonly instance: 0 | 1;
  /** Client address. */
  readonly ip: string;
  /** Bearer token in the handshake, or none. */
  readonly cred: { readonly user: string; readonly kind: TokenKind } | undefined;
  /** User named in the path. */
  readonly pathUser: string;
  /** `Origin` header. */
  readonly origin: 'app' | 'foreign' | 'none';
}

/** What a frame carries. */
export interface FrameParams {
  /** Kind. */
  readonly kind: FrameKind;
  /** For `auth`: the credential. */
  readonly cred?: { readonly user: string; readonly kind: TokenKind };
}

/** Race ticks below this are microtask turns; from it on, event-loop turns. */
export const MICROTASK_TICKS = 40;

/** A step of a race: started, not awaited until the other one has started too. */
export type Step = () => Promise<void>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A run. */
export class Lifecycle implements Observer {
  /** Outcomes seen across runs, by kind (printed with `LIFECYCLE_STATS=1`: is every path hit?). */
  static readonly tally: Map<string, number> = new Map();

  /** Add `n` to the tally of `what`. */
  static count(what: string, n = 1): void {
    Lifecycle.tally.set(what, (Lifecycle.tally.get(what) ?? 0) + n);
  }

  /** The real side. */
  readonly world: World;
  /** The model. */
  readonly model: Model = new Model();
  /** What broke, in order. */
  readonly violations: string[] = [];
  /** What was done, for the report. */
  readonly log: string[] = [];

  private constructor(world: World) {
    this.world = world;
    world.observer = this;
  }

  /** A fresh run. */
  static create(kind: StoreKind, variant: Variant, rig?: RedisRig): Lifecycle {
    return new Lifecycle(World.create(kind, variant, rig));
  }

  // ---- judging what the world reports ------------------------------------------------------

  #violate(what: string): void {
    this.violations.push(what);
  }

  #userOf(sock: Sock): string | undefined {
    return this.model.socks[sock.n]!.user ?? sock.conn.principal?.sub;
  }

  /** Whether the model has a cause for the guard to close this socket with `code` now. */
  #causeFits(sock: Sock, code: number): boolean {
    const m = this.model.socks[sock.n]!;
    const c = sock.conn;
    const now = Date.now();
    switch (code) {
      case CloseCode.Banned:
        return this.model.banning('ip', m.key) || this.model.banning('user', this.#userOf(sock));
      case CloseCode.Forbidden:
        return (
          this.model.kicking?.instance === m.instance &&
          this.model.kicking.user === this.#userOf(sock)
        );
      case CloseCode.Expired:
        return c.expiresAt !== undefined && c.expiresAt <= now + 5;
      case CloseCode.Unauthorized:
        return m.pending && m.authDeadline !== undefined && m.authDeadline[0] <= now + 5;
      case CloseCode.GoingAway:
        return this.model.shuttingDown;
      default:
        return false;
    }
  }

  /** Judge a `terminate`: a code of the contract, with a cause the model knows of. */
  terminated(sock: Sock, code: number, reason: string, ignored: boolean): void {
    const m = this.model.socks[sock.n]!;
    Lifecycle.count(`terminate ${code}${ignored ? ' (closing already)' : ''}`);
    if (!CONTRACT.has(code))
      this.#violate(`socket #${sock.n} closed with ${code}, not a code of the contract`);
    const byRefresh =
      this.model.refreshing.has(sock.n) &&
      [4001, 4002, 4003, 4008, 4030, 1013].includes(code) &&
      (code !== 1013 || this.model.store !== 'up');
    if (!this.#causeFits(sock, code) && !byRefresh)
      this.#violate(
        `socket #${sock.n} (${m.user ?? (m.pending ? 'pending' : 'anonymous')} from ${m.ip}) ` +
          `closed by the guard with ${code} "${reason}" and nothing in the model calls for it`,
      );
    if (!ignored) m.ended = true;
    if (code === CloseCode.Expired && m.expiresAt !== undefined && m.expiresAt > Date.now() + 50)
      this.#violate(`socket #${sock.n} closed 4002 though its credential lives on`);
  }

  /** Judge a decision against the model and the contract; book its penalty; follow its effect. */
  decided(sock: Sock, frame: SentFrame, d: MessageDecision): void {
    const m = this.model.socks[sock.n]!;
    const now = Date.now();
    const tag = outcomeOf(d);
    Lifecycle.count(
      `frame ${m.pending ? 'pending ' : ''}${frame.label.replace(/\(.*/, '')} → ${tag}`,
    );
    this.log.push(`    #${sock.n} ${frame.label} → ${tag}`);
    if (d.action === 'close') {
      if (!CONTRACT.has(d.code)) this.#violate(`${tag} with ${d.code}, not in the contract`);
      if (MESSAGE_CLOSE_CODES[d.reason] !== d.code)
        this.#violate(
          `${tag} closed with ${d.code}, the contract says ${MESSAGE_CLOSE_CODES[d.reason]}`,
        );
    }
    if (d.action === 'deliver' && sock.released) {
      // The guard settles no "deliver" for a connection it had released when the decision
      // settled; the socket may still close in the turns between that and this observer, and
      // then the transport drops the decision (hooks.ts `apply`: `if (s.closing) return`), as
      // this world's socket does. Leases and counts stay checked by the invariants.
      Lifecycle.count('deliver dropped: the socket closed while it settled');
      return;
    }
    if (d.action === 'deliver') {
      const user = d.authenticated ? frame.token?.sub : m.user;
      const ban = this.model.ban('ip', m.key) ?? this.model.ban('user', user);
      if (ban && now - ban.since > PROPAGATION_MS[this.world.kind] + TIMER_SLACK_MS)
        this.#violate(
          `socket #${sock.n}: ${frame.label} delivered ${now - ban.since} ms after a ban`,
        );
      if (!d.authenticated && m.expiresAt !== undefined && now > m.expiresAt + 5)
        this.#violate(`socket #${sock.n}: ${frame.label} delivered after the credential expired`);
    }
    if (d.action === 'close' && !sock.end) m.ended = true;
    if (frame.allowed && !this.model.loose && !matches(frame.allowed, d))
      this.#violate(
        `socket #${sock.n} (${m.user ?? (m.pending ? 'pending' : 'anonymous')} from ${m.ip}): ` +
          `${frame.label} decided "${tag}", the model allows ${[...frame.allowed].join(' | ')}`,
      );
    // Penalties, as the guard should have recorded them.
    const reason = d.action === 'deliver' ? undefined : d.reason;
    if (reason === 'too_big') this.model.violation('ip', m.key, 'too_big', now);
    if (reason === 'message_rate' || reason === 'user_message_rate')
      this.model.violation('ip', m.key, 'message_rate', now);
    if (!m.pending && (reason === 'malformed' || reason === 'repeated_invalid')) {
      m.invalid++;
      this.model.violation('ip', m.key, 'malformed', now);
    }
    if (reason === 'permission') this.model.violation('user', m.user, 'permission', now);
    if (m.pending && reason === 'credentials_invalid')
      this.model.violation('ip', m.key, 'credentials_invalid', now);
    if (m.pending && reason === 'path_mismatch')
      this.model.violation('ip', m.key, 'path_mismatch', now);
    if (d.action === 'deliver' && d.authenticated && frame.token && !sock.released) {
      m.user = frame.token.sub;
      m.pending = false;
      m.authDeadline = undefined;
      m.expiresAt = frame.token.expiresAt;
    }
  }

  /** Learn of automatic bans, and judge them against the scores the model counted. */
  audited(instance: 0 | 1, e: AuditEvent): void {
    if (e.type !== 'ban.started' || e.reason === 'admin') return;
    const subject = e.detail?.['subject'] as Subject | undefined;
    const id = subject === 'ip' ? ((e.detail?.['key'] as string | undefined) ?? e.ip) : e.userId;
    if (!subject || id === undefined) return;
    const now = Date.now();
    Lifecycle.count(`auto ban ${subject} (${e.reason})`);
    const s = this.model.score(subject, id, now);
    if (s.max < THRESHOLD)
      this.#violate(
        `guard ${instance} banned ${subject} ${id} for ${e.reason} with a score of at most ${s.max}, under the threshold ${THRESHOLD}`,
      );
    this.model.addBan(subject, id, 'auto', now);
  }

  /** The socket is released; while the store is away its leases may stay behind. */
  released(sock: Sock): void {
    const m = this.model.socks[sock.n]!;
    m.released = true;
    m.ended = true;
    // The release may not reach a store that is down: its leases may stay until they expire.
    if (this.model.store !== 'up') this.model.leak(m.key, m.user ?? sock.conn.principal?.sub);
  }

  // ---- operations ------------------------------------------------------------------------------

  /** The `k`-th open socket (modulo), if any. */
  target(k: number): Sock | undefined {
    const open = this.model.open();
    if (open.length === 0) return undefined;
    return this.world.socks[open[k % open.length]!.n];
  }

  /** A handshake, and on acceptance the socket opening. */
  async connect(p: ConnectParams): Promise<void> {
    const tok = p.cred ? await token(p.cred.user, p.cred.kind) : undefined;
    const headers: Record<string, string> = {};
    if (p.origin !== 'none') headers['origin'] = p.origin === 'app' ? ORIGIN : FOREIGN_ORIGIN;
    if (tok) headers['authorization'] = `Bearer ${tok.value}`;
    const before = Date.now();
    const key = keyOf(p.ip);
    const allowed = this.model.upgrade({ ...p, key, token: tok, now: before });
    const storeAtStart = this.model.store;
    const r = await this.world.upgrade(p.instance, p.ip, `/ws/${p.pathUser}`, headers);
    const after = Date.now();
    const tag = r.ok ? 'accept' : `reject:${r.reason}`;
    Lifecycle.count(`connect → ${tag}${this.model.loose ? ' (race)' : ''}`);
    this.log.push(`    → ${tag}`);
    if (!this.model.loose && !allowed.has(tag))
      this.#violate(
        `connect ${JSON.stringify(p)} → ${tag}, the model allows ${[...allowed].join(' | ')}`,
      );
    if (!r.ok) {
      const row = REJECTIONS[r.reason];
      if (r.closeCode !== row.closeCode || r.status !== row.status)
        this.#violate(
          `rejection ${r.reason} with ${r.status}/${r.closeCode}, the contract says ${row.status}/${row.closeCode}`,
        );
      if (!CONTRACT.has(r.closeCode))
        this.#violate(`rejection close code ${r.closeCode} not in the contract`);
      const points: Record<string, string> = {
        credentials_invalid: 'credentials_invalid',
        credentials_missing: 'credentials_missing',
        path_mismatch: 'path_mismatch',
        origin: 'origin',
      };
      const v = points[r.reason];
      if (v) this.model.violation('ip', key, v, after);
      // A refusal after a lease was taken, while the store went away: the lease may stay behind.
      if (storeAtStart === 'transition' || this.model.store !== storeAtStart)
        this.model.leak(key, tok?.sub);
      return;
    }
    const pending = !tok && this.world.variant === 'first-message';
    // In the model first: `attach` may terminate the socket at once (banned while it opened).
    const m: SockModel = {
      n: this.world.socks.length,
      instance: p.instance,
      ip: p.ip,
      key,
      pathUser: p.pathUser,
      user: tok?.sub,
      pending,
      anonymous: !tok && !pending,
      expiresAt: tok?.expiresAt,
      authDeadline: pending ? [before + AUTH_TIMEOUT_MS, after + AUTH_TIMEOUT_MS] : undefined,
      invalid: 0,
      ended: false,
      released: false,
    };
    this.model.socks.push(m);
    const sock = this.world.open(p.instance, r, p.ip, p.pathUser);
    if (!m.ended) this.#sameConnection(sock.conn, m);
  }

  #sameConnection(c: GuardConnection, m: SockModel): void {
    if (c.principal?.sub !== m.user)
      this.#violate(`socket #${m.n}: guard says user ${c.principal?.sub}, model ${m.user}`);
    if (m.expiresAt !== undefined && c.expiresAt !== m.expiresAt)
      this.#violate(
        `socket #${m.n}: guard expires it at ${c.expiresAt}, the token at ${m.expiresAt}`,
      );
  }

  async #frame(sock: Sock, p: FrameParams): Promise<SentFrame> {
    const m = this.model.socks[sock.n]!;
    const tok = p.kind === 'auth' && p.cred ? await token(p.cred.user, p.cred.kind) : undefined;
    const text =
      p.kind === 'ok'
        ? '{"type":"chat","text":"hi"}'
        : p.kind === 'admin'
          ? '{"type":"admin"}'
          : p.kind === 'malformed'
            ? '{"type":'
            : p.kind === 'big'
              ? JSON.stringify({ type: 'chat', text: 'x'.repeat(MAX_BYTES) })
              : JSON.stringify({ type: 'auth', token: tok?.value ?? '' });
    const now = Date.now();
    const recent = (times: readonly number[]): number => times.filter((t) => now - t < 1000).length;
    // Frames still waiting for their decision (one in flight, the rest queued behind it) reach
    // the guard's buckets before this one: count them as admitted, or a decision that waits for
    // the store (the per-user lease on Redis) leaves the model a burst behind the guard.
    const waiting = (s: Sock): number => s.queue.length + (s.busy ? 1 : 0);
    const userSocks = this.world.socks.filter(
      (s) =>
        s.instance === sock.instance &&
        m.user !== undefined &&
        this.model.socks[s.n]!.user === m.user,
    );
    const rate = {
      sock: recent(sock.admitted) + waiting(sock),
      user: userSocks.reduce((a, s) => a + recent(s.userAdmitted) + waiting(s), 0),
    };
    const label = p.kind === 'auth' ? `auth(${p.cred?.user},${p.cred?.kind})` : p.kind;
    return {
      label,
      text,
      allowed: this.model.frame(m, p.kind, tok, rate, now),
      ...(tok ? { token: { sub: tok.sub, expiresAt: tok.expiresAt } } : {}),
    };
  }

  /** One frame on the `k`-th open socket. */
  async send(k: number, p: FrameParams): Promise<void> {
    // A credential message goes to a socket waiting for one, other frames to the others, when
    // there are any: clients send their credential first.
    const open = this.model.open();
    const pending = open.filter((m) => m.pending);
    const others = open.filter((m) => !m.pending);
    const pool = p.kind === 'auth' ? pending : others;
    const sock = pool.length > 0 ? this.world.socks[pool[k % pool.length]!.n] : this.target(k);
    if (!sock) return;
    this.log.push(`    on #${sock.n}`);
    this.world.send(sock, await this.#frame(sock, p));
  }

  /** `n` ok frames in a tight loop; the rate limit must hold. */
  async flood(k: number, n: number): Promise<void> {
    const sock = this.target(k);
    if (!sock) return;
    this.log.push(`    on #${sock.n}`);
    const before = sock.delivered;
    const start = Date.now();
    for (let i = 0; i < n && !sock.end; i++)
      this.world.send(sock, await this.#frame(sock, { kind: 'ok' }));
    const delivered = sock.delivered - before;
    const elapsed = Date.now() - start;
    const interval = MESSAGE_RATE.windowMs / MESSAGE_RATE.limit;
    const most = MESSAGE_RATE.burst + Math.ceil(elapsed / interval) + 1;
    if (delivered > most)
      this.#violate(
        `socket #${sock.n}: ${delivered} of ${n} flood frames delivered in ${elapsed} ms (the rate allows ${most})`,
      );
  }

  /** `guard.refresh` on the `k`-th open socket. */
  async refresh(k: number, user: string, kind: TokenKind): Promise<void> {
    const sock = this.target(k);
    if (!sock) return;
    const m = this.model.socks[sock.n]!;
    const tok = await token(user, kind);
    const allowed = this.model.refresh(m, tok, Date.now());
    const refreshing = this.model.refreshing;
    refreshing.set(sock.n, (refreshing.get(sock.n) ?? 0) + 1);
    let tag: string;
    try {
      await this.world.track(this.world.guards[sock.instance].refresh(sock.conn, tok.value));
      tag = 'ok';
    } catch (error) {
      tag = 'throw';
      if (!isGuardError(error)) this.#violate(`refresh threw ${String(error)}, not a GuardError`);
      // A refused refresh may or may not be scored: the contract leaves it open.
      if (kind === 'forged')
        this.model.violation('ip', m.key, 'credentials_invalid', Date.now(), true);
    } finally {
      const left = (refreshing.get(sock.n) ?? 1) - 1;
      if (left > 0) refreshing.set(sock.n, left);
      else refreshing.delete(sock.n);
    }
    Lifecycle.count(`refresh ${m.user === undefined ? 'userless ' : ''}→ ${tag}`);
    this.log.push(`    #${sock.n} refresh → ${tag}`);
    if (!this.model.loose && !allowed.has(tag))
      this.#violate(
        `socket #${sock.n} (${m.user ?? (m.pending ? 'pending' : 'anonymous')} on /ws/${m.pathUser}): ` +
          `refresh(${user},${kind}) → ${tag}, the model allows ${[...allowed].join(' | ')}`,
      );
    if (tag === 'ok' && !m.released) {
      if (m.user === undefined) {
        m.user = tok.sub;
        m.pending = false;
        m.anonymous = false;
        m.authDeadline = undefined;
      }
      m.expiresAt = tok.expiresAt;
      this.#sameConnection(sock.conn, m);
    }
  }

  /** `guard.ban` on instance `i`. */
  async ban(i: 0 | 1, subject: Subject, id: string): Promise<void> {
    const intent = { subject, id: subject === 'ip' ? keyOf(id) : id };
    this.model.intents.push(intent);
    try {
      await this.world.track(this.world.guards[i].ban(subject, id, BAN_MS));
      this.model.addBan(subject, subject === 'ip' ? keyOf(id) : id, 'admin', Date.now());
      this.log.push('    → banned');
    } catch (error) {
      this.log.push(`    → ${String(error)}`);
      if (this.model.store === 'up')
        this.#violate(`ban failed with the store up: ${String(error)}`);
    } finally {
      this.model.intents.splice(this.model.intents.indexOf(intent), 1);
    }
  }

  /** `guard.unban` on instance `i`. */
  async unban(i: 0 | 1, subject: Subject, id: string): Promise<void> {
    try {
      await this.world.track(this.world.guards[i].unban(subject, id));
      this.model.unban(subject, subject === 'ip' ? keyOf(id) : id);
    } catch (error) {
      if (this.model.store === 'up')
        this.#violate(`unban failed with the store up: ${String(error)}`);
    }
  }

  /** `guard.kick` on instance `i`: every socket of `user` there closes with 4003 at once. */
  kick(i: 0 | 1, user: string): void {
    const expected = this.model.open().filter((m) => m.instance === i && m.user === user);
    this.model.kicking = { instance: i, user };
    let n: number;
    try {
      n = this.world.guards[i].kick(user);
    } finally {
      this.model.kicking = undefined;
    }
    this.log.push(`    → ${n} kicked`);
    if (this.model.loose) return;
    if (n !== expected.length)
      this.#violate(`kick(${user}) on ${i} closed ${n}, the model has ${expected.length} open`);
    for (const m of expected) {
      const end = this.world.socks[m.n]!.end;
      if (end?.code !== CloseCode.Forbidden)
        this.#violate(`kicked socket #${m.n} ended with ${end?.code ?? 'nothing'}, not 4003`);
    }
  }

  /** The client closes the `k`-th open socket; a late frame after it is never delivered. */
  close(k: number): void {
    const sock = this.target(k);
    if (!sock) return;
    this.log.push(`    #${sock.n}`);
    this.world.clientClose(sock, 1000);
    const late = this.world.guards[sock.instance].message(sock.conn, '{"type":"chat"}');
    if (!(late instanceof Promise) && late.action === 'deliver')
      this.#violate(`socket #${sock.n}: a frame after close was delivered`);
  }

  /** Take the store down or bring it back. */
  async store(up: boolean): Promise<void> {
    if (!up) this.model.store = 'down';
    await this.world.setStore(up);
    if (up) this.model.store = 'up';
  }

  /** Hold back instance `i`'s link to Redis, or let it through (see World.hold). */
  hold(i: 0 | 1, held: boolean): void {
    this.world.hold(i, held);
  }

  /** Let time pass (timers fire). */
  async wait(ms: number): Promise<void> {
    await sleep(ms);
  }

  /**
   * Two steps at once: `b` starts `ticks` turns after `a` (up to {@link MICROTASK_TICKS}:
   * microtask turns, which is where the memory store's awaits interleave; past it, event-loop
   * turns, where the network's do). Outcomes are then judged by the contract and the invariants
   * only.
   */
  async race(a: Step, b: Step, ticks: number, storeDown: boolean): Promise<void> {
    this.model.loose = true;
    if (storeDown) this.model.store = 'transition';
    try {
      const pa = a();
      for (let i = 0; i < ticks; i++) {
        if (i < MICROTASK_TICKS) await Promise.resolve();
        else await turn();
      }
      await Promise.all([pa, b()]);
      await this.world.settle();
    } finally {
      this.model.loose = false;
      if (storeDown) this.model.store = 'down';
    }
    // A ban may have reached the store while its answer was lost in the cut: read them back.
    if (storeDown) {
      for (const key of new Set(IPS.map(keyOf)))
        if ((await this.world.peek(`ban:ip:${key}`)) !== undefined && !this.model.ban('ip', key))
          this.model.addBan('ip', key, 'auto', Date.now());
      for (const u of USERS)
        if ((await this.world.peek(`ban:user:${u}`)) !== undefined && !this.model.ban('user', u))
          this.model.addBan('user', u, 'auto', Date.now());
    }
  }

  /** `b` right after `a` resolved, nothing settled in between: judged like a race. */
  async sequence(a: Step, b: Step): Promise<void> {
    this.model.loose = true;
    try {
      await a();
      await b();
      await this.world.settle();
    } finally {
      this.model.loose = false;
    }
  }

  /** Settle and check every invariant; throws with everything that broke. */
  async check(): Promise<void> {
    const found = await checkInvariants(this.world, this.model);
    this.violations.push(...found);
    this.world.problems.length = 0;
    this.world.errors.length = 0;
    if (this.violations.length > 0) throw this.#failure();
  }

  #failure(): Error {
    const unique = [...new Set(this.violations)];
    return new Error(
      `lifecycle invariant broken (${this.world.kind}, ${this.world.variant}):\n  ` +
        unique.join('\n  ') +
        `\nlast steps:\n${this.log.slice(-40).join('\n')}`,
    );
  }

  /**
   * End the run: store back, both guards shut down, then every invariant once more (no socket
   * held, no lease left but those an outage may have left) and every socket ended with a code of
   * the contract; then the stores are closed and the run's keys deleted.
   */
  async dispose(): Promise<void> {
    const problems: string[] = [];
    try {
      this.model.store = 'up';
      this.model.shuttingDown = true;
      await this.world.shutdown();
      problems.push(...(await checkInvariants(this.world, this.model)));
      for (const s of this.world.socks) {
        if (!s.end || !s.released) problems.push(`socket #${s.n} never ended`);
        else if (s.end.by !== 'client' && !CONTRACT.has(s.end.code))
          problems.push(`socket #${s.n} ended with ${s.end.code}, not in the contract`);
      }
    } catch (error) {
      problems.push(`shutdown failed: ${String(error)}`);
    } finally {
      await this.world.cleanup();
    }
    // A run that failed already reports its own failure; this one would only repeat it.
    if (problems.length > 0 && this.violations.length === 0) {
      this.violations.push(...problems);
      throw this.#failure();
    }
  }
}
