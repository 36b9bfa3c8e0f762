/**
 * The real side of the lifecycle test: two guard instances on one store (memory, or Redis with
 * each instance behind its own TCP proxy that can be cut or held), and fake sockets driven the way the adapters drive a guard
 * (src/transport/hooks.ts): `attach` on open with a `terminate` that records the close and releases the
 * connection asynchronously, frames decided one at a time in arrival order (queued while a
 * decision is pending) and dropped once the socket is closing, `close` when the socket ends.
 * It observes and records; judging is the model's and the invariants' job.
 */
import type { Redis } from 'ioredis';
import {
  type Accept,
  type AuditEvent,
  createGuard,
  createMemoryStore,
  type ErrorStage,
  type Guard,
  type GuardConnection,
  type MessageDecision,
  type Reject,
  type Store,
} from '../../src/mod.ts';
import { createRedisStore } from '../../src/redis.ts';
import {
  connectRedis,
  deletePrefix,
  REDIS_URL,
  uniquePrefix,
  whenReady,
} from '../store/redis-env.ts';
import { startTcpProxy, type TcpProxy } from '../store/tcp-proxy.ts';
import { guardOptions, type Variant } from './config.ts';
import { type StoreSwitch, switched } from './switch-store.ts';

/** Which store the run uses. */
export type StoreKind = 'memory' | 'redis';

/** How a socket ended. */
export interface Close {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** Who closed: the guard through `terminate`, a message decision, or the client. */
  readonly by: 'terminate' | 'decision' | 'client';
  /** When. */
  readonly at: number;
}

/** A frame the test sends, with what the model allows it to be decided as. */
export interface SentFrame {
  /** Short label for reports (`ok`, `big`, `auth(alice,long)` …). */
  readonly label: string;
  /** The frame. */
  readonly text: string;
  /** Allowed outcomes (see model.ts `matches`); `undefined` when only the contract is checked. */
  readonly allowed: ReadonlySet<string> | undefined;
  /** For a credential message: the token it carries. */
  readonly token?: { readonly sub: string; readonly expiresAt: number };
}

/** One fake socket. */
export interface Sock {
  /** Ordinal in the run. */
  readonly n: number;
  /** Which guard instance accepted it. */
  readonly instance: 0 | 1;
  /** The guard's connection. */
  readonly conn: GuardConnection;
  /** Client address. */
  readonly ip: string;
  /** The user named in the path (`/ws/<pathUser>`). */
  readonly pathUser: string;
  /** The close it ended with (the first one; later `terminate` calls are ignored, as adapters do). */
  end: Close | undefined;
  /** `guard.close` has been called. */
  released: boolean;
  /** A decision is pending: frames queue. */
  busy: boolean;
  /** Frames waiting for the pending decision. */
  readonly queue: SentFrame[];
  /** When frames passed the connection's rate limiter (for plausibility). */
  readonly admitted: number[];
  /** When frames passed both rate limiters (the user's limiter counts only these). */
  readonly userAdmitted: number[];
  /** Frames decided `deliver`. */
  delivered: number;
}

/** What the world tells its observer, synchronously, as it happens. */
export interface Observer {
  /** The guard called `terminate` (`ignored`: the socket was closing already). */
  terminated(sock: Sock, code: number, reason: string, ignored: boolean): void;
  /** A frame was decided. */
  decided(sock: Sock, frame: SentFrame, decision: MessageDecision): void;
  /** An audit event was emitted by `instance`. */
  audited(instance: 0 | 1, event: AuditEvent): void;
  /** `guard.close` is about to be called for the socket. */
  released(sock: Sock): void;
}

/**
 * Redis connections shared by every run of a suite. Each instance reaches Redis through its own
 * TCP proxy (its subscriber connection too, which ioredis opens to the same address), so the
 * store can be taken from both at once, or one instance's link held back.
 */
export interface RedisRig {
  /** The proxies in front of Redis, one per instance. */
  readonly proxies: readonly [TcpProxy, TcpProxy];
  /** The two instances' clients (each through its proxy). */
  readonly clients: readonly [Redis, Redis];
  /** A client straight to Redis: reads leases and cleans up while the proxies are cut. */
  readonly direct: Redis;
}

/** Open the shared Redis connections. */
export async function openRedisRig(): Promise<RedisRig> {
  const u = new URL(REDIS_URL);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 6379);
  const proxies = [await startTcpProxy(host, port), await startTcpProxy(host, port)] as const;
  const via = (p: TcpProxy): string => {
    const v = new URL(REDIS_URL);
    v.hostname = '127.0.0.1';
    v.port = String(p.port);
    return v.toString();
  };
  const a = await connectRedis(via(proxies[0]));
  const b = await connectRedis(via(proxies[1]));
  const direct = await connectRedis(REDIS_URL);
  return { proxies, clients: [a, b], direct };
}

/** Close the shared Redis connections. */
export async function closeRedisRig(rig: RedisRig): Promise<void> {
  for (const p of rig.proxies) {
    p.resume();
    await p.restore().catch(() => {});
  }
  for (const c of [...rig.clients, rig.direct]) c.disconnect();
  for (const p of rig.proxies) await p.close();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The system under test for one run. */
export class World {
  /** Store kind. */
  readonly kind: StoreKind;
  /** Credential variant. */
  readonly variant: Variant;
  /** Every socket accepted in this run. */
  readonly socks: Sock[] = [];
  /** Background failures the guards reported. */
  readonly errors: { instance: 0 | 1; stage: ErrorStage; error: unknown }[] = [];
  /** Guard instances A and B. */
  readonly guards: readonly [Guard, Guard];
  /** Problems found while observing (a guard that threw into the runtime …). */
  readonly problems: string[] = [];
  /** Whether the store is reachable (as the test set it). */
  storeUp = true;
  /** Told of everything as it happens. */
  observer: Observer | undefined;

  readonly #switch: StoreSwitch;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #checker: Store;
  readonly #stores: readonly Store[];
  readonly #rig: RedisRig | undefined;
  readonly #prefix: string | undefined;

  private constructor(
    kind: StoreKind,
    variant: Variant,
    sw: StoreSwitch,
    stores: readonly [Store, Store],
    checker: Store,
    rig: RedisRig | undefined,
    prefix: string | undefined,
  ) {
    this.kind = kind;
    this.variant = variant;
    this.#switch = sw;
    this.#checker = checker;
    this.#stores = stores;
    this.#rig = rig;
    this.#prefix = prefix;
    const make = (i: 0 | 1): Guard =>
      createGuard(
        guardOptions(stores[i], variant, {
          audit: (e) => this.observer?.audited(i, e),
          onError: (error, { stage }) => {
            this.errors.push({ instance: i, stage, error });
          },
        }),
      );
    this.guards = [make(0), make(1)];
  }

  /** A world on a fresh memory store, or on Redis under a fresh key prefix. */
  static create(kind: StoreKind, variant: Variant, rig?: RedisRig): World {
    const sw: StoreSwitch = { down: false, inflight: 0 };
    if (kind === 'memory') {
      const inner = createMemoryStore();
      const s = switched(inner, sw, true);
      return new World(kind, variant, sw, [s, s], inner, undefined, undefined);
    }
    if (!rig) throw new Error('a Redis world needs the Redis rig');
    const prefix = uniquePrefix('lifecycle');
    const [a, b] = rig.clients;
    const stores: [Store, Store] = [
      switched(createRedisStore({ client: a, prefix }), sw, false),
      switched(createRedisStore({ client: b, prefix }), sw, false),
    ];
    const checker = createRedisStore({ client: rig.direct, prefix });
    return new World(kind, variant, sw, stores, checker, rig, prefix);
  }

  /**
   * Hold back (or let through again) what instance `i` sends to Redis: its connection stays open
   * and nothing is lost. Redis only.
   */
  hold(i: 0 | 1, held: boolean): void {
    const p = this.#rig?.proxies[i];
    if (!p) throw new Error('hold needs the Redis rig');
    if (held) p.stall();
    else p.resume();
  }

  /** Live leases in set `key`, read past the switch and the proxy. */
  countLeases(key: string): Promise<number> {
    return this.#checker.countLeases(key);
  }

  /** Read a key past the switch and the proxy. */
  peek(key: string): Promise<string | undefined> {
    return this.#checker.get(key);
  }

  /** Take the store away, or bring it back (and wait until the clients are ready again). */
  async setStore(up: boolean): Promise<void> {
    if (up === this.storeUp) return;
    if (this.kind === 'memory') {
      this.#switch.down = !up;
      this.storeUp = up;
      return;
    }
    const rig = this.#rig!;
    if (!up) {
      this.storeUp = false;
      for (const p of rig.proxies) await p.cut();
      // Until ioredis has seen the cut, a command could still be written to the dead socket.
      for (let i = 0; i < 200 && rig.clients.some((c) => c.status === 'ready'); i++) await sleep(5);
      return;
    }
    for (const p of rig.proxies) await p.restore();
    await Promise.all(rig.clients.map((c) => whenReady(c)));
    this.storeUp = true;
  }

  /** Keep a promise the settle step waits for. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const drop = (): void => {
      this.#pending.delete(p);
    };
    p.then(drop, drop);
    return p;
  }

  /**
   * Let pending work run: the test's own promises, the guard's store operations (counted by the
   * switch), and a few event-loop turns for what they start. Bounded in turns and time.
   */
  async settle(maxMs = 3000): Promise<void> {
    const start = Date.now();
    let quiet = 0;
    for (let i = 0; i < 5000; i++) {
      if (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      if (this.#switch.inflight > 0) await sleep(1);
      else await turn();
      if (this.#pending.size === 0 && this.#switch.inflight === 0) {
        if (++quiet >= 3) return;
      } else quiet = 0;
      if (Date.now() - start > maxMs) break;
    }
    this.problems.push(
      `did not settle within ${maxMs} ms (${this.#pending.size} pending, ${this.#switch.inflight} store operations in flight)`,
    );
  }

  /** A handshake on instance `i`. */
  upgrade(
    i: 0 | 1,
    ip: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<Accept | Reject> {
    return this.track(
      this.guards[i].upgrade({
        request: new Request(`http://127.0.0.1${path}`, { headers }),
        ip,
      }),
    );
  }

  /** The socket opens (an accepted handshake): attach, as the adapters do on open. */
  open(i: 0 | 1, accept: Accept, ip: string, pathUser: string): Sock {
    const sock: Sock = {
      n: this.socks.length,
      instance: i,
      conn: accept.connection,
      ip,
      pathUser,
      end: undefined,
      released: false,
      busy: false,
      queue: [],
      admitted: [],
      userAdmitted: [],
      delivered: 0,
    };
    this.socks.push(sock);
    this.guards[i].attach(sock.conn, (code, reason) => {
      const ignored = sock.end !== undefined;
      this.observer?.terminated(sock, code, reason, ignored);
      if (!ignored) this.#closing(sock, { code, reason, by: 'terminate', at: Date.now() });
    });
    return sock;
  }

  /** A frame arrives from the client. */
  send(sock: Sock, frame: SentFrame): void {
    if (sock.end) return; // adapters drop frames once the socket is closing
    if (sock.busy) {
      sock.queue.push(frame);
      return;
    }
    this.#decide(sock, frame);
  }

  /** The client closes the socket: the runtime's close event, then `guard.close`. */
  clientClose(sock: Sock, code: number): void {
    if (sock.end) return;
    sock.end = { code, reason: 'client', by: 'client', at: Date.now() };
    sock.queue.length = 0;
    this.#release(sock, code);
  }

  /** End the run: links let through, store back, both guards shut down, settled. */
  async shutdown(): Promise<void> {
    for (const p of this.#rig?.proxies ?? []) p.resume();
    await this.setStore(true);
    await Promise.all(this.guards.map((g) => g.shutdown()));
    await this.settle();
  }

  /** Close the run's stores and delete its keys (after {@link World.shutdown}). */
  async cleanup(): Promise<void> {
    for (const p of this.#rig?.proxies ?? []) p.resume();
    for (const s of new Set(this.#stores)) await s.close?.().catch(() => {});
    if (this.#rig && this.#prefix) await deletePrefix(this.#rig.direct, this.#prefix);
  }

  #closing(sock: Sock, close: Close): void {
    sock.end = close;
    sock.queue.length = 0;
    // A runtime reports the close asynchronously, after the close handshake.
    this.track(turn().then(() => this.#release(sock, close.code)));
  }

  #release(sock: Sock, code: number): void {
    if (sock.released) return;
    sock.released = true;
    this.observer?.released(sock);
    this.track(
      this.guards[sock.instance].close(sock.conn, code).catch((e: unknown) => {
        this.problems.push(`guard.close rejected: ${String(e)}`);
      }),
    );
  }

  #decide(sock: Sock, frame: SentFrame): void {
    let d: MessageDecision | Promise<MessageDecision>;
    try {
      d = this.guards[sock.instance].message(sock.conn, frame.text);
    } catch (error) {
      this.problems.push(`guard.message threw into the runtime: ${String(error)}`);
      return;
    }
    if (!(d instanceof Promise)) {
      this.#apply(sock, frame, d);
      return;
    }
    sock.busy = true;
    this.track(
      d.then(
        (decision) => {
          sock.busy = false;
          this.#apply(sock, frame, decision);
          this.#pump(sock);
        },
        (error: unknown) => {
          sock.busy = false;
          this.problems.push(`guard.message rejected: ${String(error)}`);
        },
      ),
    );
  }

  #apply(sock: Sock, frame: SentFrame, d: MessageDecision): void {
    const reason = d.action === 'deliver' ? undefined : d.reason;
    if (reason !== 'message_rate') sock.admitted.push(Date.now());
    if (reason !== 'message_rate' && reason !== 'user_message_rate')
      sock.userAdmitted.push(Date.now());
    if (d.action === 'deliver') sock.delivered++;
    this.observer?.decided(sock, frame, d);
    if (sock.end) return; // adapters drop a decision for a socket that is closing
    if (d.action === 'close')
      this.#closing(sock, { code: d.code, reason: d.message, by: 'decision', at: Date.now() });
  }

  #pump(sock: Sock): void {
    while (!sock.busy && !sock.end) {
      const next = sock.queue.shift();
      if (!next) return;
      this.#decide(sock, next);
    }
  }
}
