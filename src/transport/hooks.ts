/**
 * The guard as crossws hooks: every handshake goes through `guard.upgrade`, every frame through
 * `guard.message` before the app sees it, every close through `guard.close`. Runtime-free: the
 * adapters in `adapters/` supply the client address; any other crossws server can too, with
 * {@link setClient} or the `clientInfo` option.
 *
 * What the hooks add on top of the guard:
 * - frames are decided in order, one at a time, even when a decision is async (first-message
 *   auth, an async `canAccess`); frames waiting meanwhile are bounded;
 * - a client that does not read (`bufferedAmount` over a limit) is closed with 1013;
 * - a failing app hook is reported and closes with 1011; no hook ever rejects into the runtime;
 * - a handshake the runtime refuses after the guard accepted it is released (caps, counters);
 * - every close is attributed: the guard's own, the app's (`peer.close` from an app hook), or the
 *   client's, so a client closing with 4030 is never counted or audited as the guard's ban.
 *
 * @module
 */
import type { Hooks, Message, Peer, PeerContext, WSError } from 'crossws';
import { CloseCode } from '../core/codes.ts';
import type { RuntimeViolation } from '../core/runtime-violation.ts';
import type { ErrorStage } from '../guard/options.ts';
import type {
  ClientInfo,
  Guard,
  GuardedHooks,
  GuardHooks,
  GuardHooksOptions,
  MessageDecision,
  Reject,
} from '../guard/types.ts';
import { checkHandshake } from '../handshake/request-shape.ts';
import { forgetRequestUrl, requestUrl } from '../handshake/request-url.ts';
import type { CloseInitiator } from '../observability/stats.ts';
import type { GuardConnection } from '../state/connection.ts';

const KEY = 'wsguard';
/** A credential failure accepted only to be closed (close-code contract). */
const REJECT_KEY = 'wsguardReject';

interface PeerState {
  readonly connection: GuardConnection;
  peer: Peer | undefined;
  opened: boolean;
  appOpened: boolean;
  closing: boolean;
  closed: boolean;
  closeCode: number | undefined;
  /** Not open yet, or a decision or the app's `open` is in flight: frames queue. */
  busy: boolean;
  queue: Message[];
  queuedBytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The close code of a refusal the runtime made itself, once recorded (the error and close hooks
   * may both see it; it is recorded once).
   */
  violationCode: number | undefined;
  /**
   * The code of a close the app started itself (`peer.close`/`peer.terminate` from its hooks),
   * unless the guard was closing already: the close is then the app's, not the client's.
   */
  appCloseCode: number | undefined;
}

/*
 * Per-handshake slots are symbol-keyed properties of objects that die with the handshake (the
 * request, the peer's context), not WeakMaps: a WeakMap churned at handshake rate costs the
 * garbage collector an ephemeron table to walk, measured at ~20 µs a handshake on Node.
 */
/** The client of a handshake, on its request (set by adapters). */
const CLIENT = Symbol('wsguard.client');
/** An accepted handshake waiting for its socket to open, on its request. */
const PENDING = Symbol('wsguard.pending');
/** The peer's state, in its crossws context. */
const STATE = Symbol('wsguard.state');
type RequestSlots = { [CLIENT]?: ClientInfo; [PENDING]?: PeerState | undefined };

/** Record the client of a handshake for the upgrade hook (adapters call it before upgrading). */
export function setClient(request: Request, client: ClientInfo): void {
  (request as RequestSlots)[CLIENT] = client;
}

/** The guard's connection of a peer, or `undefined` for a socket the guard did not accept. */
export function connectionOf(peer: Peer): GuardConnection | undefined {
  const c = peer.context[KEY];
  return c && typeof c === 'object' ? (c as GuardConnection) : undefined;
}

const text = (status: number, body: string, retryAfter?: number): Response => {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(new TextEncoder().encode(body).byteLength),
    'cache-control': 'no-store',
    connection: 'close',
  };
  if (retryAfter !== undefined && retryAfter > 0) headers['retry-after'] = String(retryAfter);
  return new Response(body, { status, headers });
};

/** A close reason is at most 123 bytes of UTF-8; longer ones make some runtimes throw. */
const reasonOf = (reason: string): string => {
  const bytes = new TextEncoder().encode(reason);
  return bytes.byteLength <= 123 ? reason : new TextDecoder().decode(bytes.slice(0, 120));
};

const sizeOf = (raw: unknown): number =>
  typeof raw === 'string'
    ? raw.length * 3
    : raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)
      ? raw.byteLength
      : raw instanceof Blob
        ? raw.size
        : 0;

/** Already settled: `abandon` does its work synchronously, so it needs no async function. */
const DONE: Promise<void> = Promise.resolve();

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null | undefined)?.then === 'function';

/**
 * Put `guard` in front of `app` as crossws hooks (also `guard.hooks(app)`).
 *
 * @example
 * ```ts
 * import nodeAdapter from 'crossws/adapters/node';
 * const hooks = guardHooks(guard, {
 *   message(peer, _message, { connection, value }) {
 *     peer.send(JSON.stringify({ from: connection.principal?.sub, value }));
 *   },
 * });
 * const ws = nodeAdapter({ hooks }); // or use wsguard's adapters, which supply the client IP
 * ```
 */
export function guardHooks(
  guard: Guard,
  app: GuardedHooks = {},
  options: GuardHooksOptions = {},
): GuardHooks {
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const maxQueued = options.maxQueuedMessages ?? 64;
  const maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const bufferCheckMs = options.bufferCheckMs ?? 1000;
  const onError =
    options.onError ??
    ((error: unknown, context: { stage: ErrorStage }) =>
      console.error(`[wsguard] ${context.stage}:`, error));
  const report = (error: unknown, stage: ErrorStage = 'hook'): void => {
    try {
      onError(error, { stage });
    } catch {
      // A throwing error handler must not take the server down.
    }
  };
  const live = new Set<PeerState>();
  const waiters = new Set<() => void>();
  const signals = options.runtimeViolations;
  let stopped = false;
  let sweep: ReturnType<typeof setInterval> | undefined;

  const clientOf = (request: Request): ClientInfo | undefined => {
    const custom = options.clientInfo?.(request);
    if (custom) return custom;
    const stored = (request as RequestSlots)[CLIENT];
    if (stored) return stored;
    // srvx (and h3 on it) resolve the socket address as `request.ip`.
    const ip = (request as { ip?: unknown }).ip;
    return typeof ip === 'string' && ip !== '' ? { ip, secure: false } : undefined;
  };

  const stateOf = (peer: Peer): PeerState | undefined =>
    peer.context[STATE as unknown as string] as PeerState | undefined;

  const clearTimer = (s: PeerState): void => {
    if (s.timer !== undefined) clearTimeout(s.timer);
    s.timer = undefined;
  };

  /**
   * Give back what the guard holds for a connection (idempotent). `by`: who ended it, so the
   * guard counts and audits only its own closes as its own.
   */
  const release = (s: PeerState, by: CloseInitiator, code?: number): void => {
    if (s.closed) return;
    s.closed = true;
    s.closing = true;
    s.queue = [];
    s.queuedBytes = 0;
    clearTimer(s);
    if (live.delete(s)) {
      if (live.size === 0) {
        if (sweep !== undefined) clearInterval(sweep);
        sweep = undefined;
        for (const w of waiters) w();
      }
    }
    guard.close(s.connection, code, by).catch((e: unknown) => report(e, 'close'));
  };

  const safeClose = (peer: Peer, code: number, reason: string): void => {
    try {
      peer.close(code, reasonOf(reason));
    } catch (error) {
      report(error);
      try {
        peer.terminate();
      } catch {
        // Already gone.
      }
    }
  };

  const closePeer = (s: PeerState, code: number, reason: string): void => {
    if (s.closing) return;
    s.closing = true;
    s.closeCode = code;
    s.queue = [];
    s.queuedBytes = 0;
    const peer = s.peer;
    if (!peer) {
      release(s, 'guard', code);
      return;
    }
    safeClose(peer, code, reason);
    clearTimer(s);
    // A client that never reads never answers the close frame either: cut it after a while.
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (!s.closed) {
        try {
          peer.terminate();
        } catch {
          // Already gone.
        }
      }
    }, closeTimeoutMs);
    (s.timer as { unref?: () => void }).unref?.();
  };

  const fail = (s: PeerState, error: unknown): void => {
    report(error);
    s.busy = false;
    closePeer(s, CloseCode.InternalError, 'internal error');
  };

  /** Run an app hook; a throw or rejection closes the connection with 1011. */
  const run = (s: PeerState, call: () => unknown, then?: () => void): void => {
    let r: unknown;
    try {
      r = call();
    } catch (error) {
      fail(s, error);
      return;
    }
    if (isThenable(r))
      r.then(
        () => then?.(),
        (error: unknown) => fail(s, error),
      );
    else then?.();
  };

  const overBuffer = (s: PeerState): void => {
    if (!s.closing && s.peer && s.peer.bufferedAmount > maxBuffered)
      closePeer(s, CloseCode.TryAgainLater, 'client too slow');
  };

  const apply = (
    s: PeerState,
    message: Message,
    d: MessageDecision,
    frame: string | ArrayBuffer | ArrayBufferView,
  ): void => {
    if (s.closing) return;
    const peer = s.peer!;
    if (d.action === 'deliver') {
      const handler = app.message;
      if (!handler) return;
      // The hot path: no closure per frame (see `run` for the same logic).
      let r: unknown;
      try {
        r = handler(peer, message, {
          connection: s.connection,
          value: d.value,
          authenticated: d.authenticated === true,
        });
      } catch (error) {
        fail(s, error);
        return;
      }
      if (isThenable(r)) r.then(undefined, (error: unknown) => fail(s, error));
    } else if (d.action === 'reply') {
      const refused = app.refused;
      if (refused) run(s, () => refused(peer, d.reply, frame, s.connection));
      else peer.send(JSON.stringify(d.reply));
    } else closePeer(s, d.code, d.message);
  };

  const decide = (
    s: PeerState,
    message: Message,
    frame: string | ArrayBuffer | ArrayBufferView,
  ) => {
    let d: MessageDecision | Promise<MessageDecision>;
    try {
      d = guard.message(s.connection, frame);
    } catch (error) {
      fail(s, error);
      return;
    }
    if (!(d instanceof Promise)) {
      apply(s, message, d, frame);
      return;
    }
    s.busy = true;
    d.then(
      (decision) => {
        s.busy = false;
        apply(s, message, decision, frame);
        pump(s);
      },
      (error: unknown) => fail(s, error),
    );
  };

  const handle = (s: PeerState, message: Message): void => {
    const raw = message.rawData;
    if (typeof raw === 'string' || raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
      decide(s, message, raw);
      return;
    }
    if (raw instanceof Blob) {
      s.busy = true;
      raw.arrayBuffer().then(
        (buffer) => {
          s.busy = false;
          if (!s.closing) decide(s, message, buffer);
          pump(s);
        },
        (error: unknown) => fail(s, error),
      );
      return;
    }
    decide(s, message, message.uint8Array());
  };

  /** Decide queued frames in arrival order until one needs to wait. */
  const pump = (s: PeerState): void => {
    while (!s.busy && !s.closing) {
      const next = s.queue.shift();
      if (!next) return;
      s.queuedBytes -= sizeOf(next.rawData);
      handle(s, next);
    }
  };

  const startSweep = (): void => {
    if (sweep !== undefined || !(bufferCheckMs > 0)) return;
    sweep = setInterval(() => {
      for (const s of live) overBuffer(s);
    }, bufferCheckMs);
    (sweep as { unref?: () => void }).unref?.();
  };

  const upgrade: Hooks['upgrade'] = async (request) => {
    let accepted: PeerState | undefined;
    try {
      if (stopped) return text(503, 'server shutting down', 5);
      if (options.path !== undefined && requestUrl(request)?.pathname !== options.path)
        return text(404, 'not found');
      const bad = checkHandshake(request);
      if (bad) return bad;
      const client = clientOf(request);
      if (!client) {
        report(
          new Error('wsguard: no client address for this handshake; use a wsguard adapter'),
          'upgrade',
        );
        return text(500, 'internal error');
      }
      const d = await guard.upgrade({ request, ip: client.ip, secure: client.secure });
      if (!d.ok) return rejected(d);
      const s: PeerState = {
        connection: d.connection,
        peer: undefined,
        opened: false,
        appOpened: false,
        closing: false,
        closed: false,
        closeCode: undefined,
        busy: true,
        queue: [],
        queuedBytes: 0,
        timer: undefined,
        violationCode: undefined,
        appCloseCode: undefined,
      };
      accepted = s;
      // The client may have gone while the guard was deciding: give back what it took.
      if (stopped || client.alive?.() === false) {
        release(s, stopped ? 'guard' : 'client');
        return text(503, 'client gone');
      }
      let headers: HeadersInit | undefined;
      if (app.upgrade) {
        const r = await app.upgrade(request, d.connection);
        if (r instanceof Response) {
          release(s, 'app');
          return r;
        }
        headers = r?.headers;
      }
      (request as RequestSlots)[PENDING] = s;
      if (openTimeoutMs > 0) {
        s.timer = setTimeout(() => {
          s.timer = undefined;
          if (!s.opened) release(s, 'guard');
        }, openTimeoutMs);
        (s.timer as { unref?: () => void }).unref?.();
      }
      const result: { headers?: HeadersInit; protocol?: string; context: PeerContext } = {
        context: { [KEY]: d.connection, [STATE]: s },
      };
      if (headers) result.headers = headers;
      if (d.protocol) result.protocol = d.protocol;
      return result;
    } catch (error) {
      report(error, 'upgrade');
      if (accepted) release(accepted, 'guard');
      return text(500, 'internal error');
    } finally {
      forgetRequestUrl(request);
    }
  };

  const rejected = (d: Reject): Response | { protocol?: string; context: PeerContext } => {
    if (d.mode === 'http') return text(d.status, d.message, d.retryAfter);
    // Accept, then close at once: a browser cannot read a handshake's status, only a close code.
    return {
      ...(d.protocol ? { protocol: d.protocol } : {}),
      context: { [REJECT_KEY]: { code: d.closeCode, reason: d.message } },
    };
  };

  const open: Hooks['open'] = (peer) => {
    try {
      const rejection = peer.context[REJECT_KEY] as { code: number; reason: string } | undefined;
      if (rejection) {
        safeClose(peer, rejection.code, rejection.reason);
        return;
      }
      const s = stateOf(peer);
      if (!s) {
        report(new Error('wsguard: a socket opened without the guard accepting its handshake'));
        safeClose(peer, CloseCode.InternalError, 'internal error');
        return;
      }
      clearTimer(s);
      s.opened = true;
      s.peer = peer;
      if (s.closed || s.connection.closed) {
        // Released while the handshake completed (shutdown, open timeout).
        s.closing = true;
        safeClose(peer, CloseCode.GoingAway, 'server shutting down');
        release(s, 'guard');
        return;
      }
      live.add(s);
      startSweep();
      const send = peer.send.bind(peer);
      // Every send is followed by a look at the buffer: a client that does not read is closed
      // before the server holds more than `maxBufferedBytes` for it.
      peer.send = (data: unknown, opts?: { compress?: boolean }) => {
        if (s.closing) return 0;
        const r = send(data, opts);
        overBuffer(s);
        return r;
      };
      // A close the app starts itself is the app's: noted before the runtime reports it, since
      // the runtime's close event then carries the client's echo of the code, as for any close.
      const close = peer.close.bind(peer);
      const terminate = peer.terminate.bind(peer);
      peer.close = (code?: number, reason?: string) => {
        if (!s.closing) s.appCloseCode ??= code ?? 1005;
        return close(code, reason);
      };
      peer.terminate = () => {
        if (!s.closing) s.appCloseCode ??= 1006;
        return terminate();
      };
      guard.attach(s.connection, (code, reason) => closePeer(s, code, reason));
      if (signals?.watch) {
        try {
          signals.watch(peer, (v) => noteViolation(s, () => v));
        } catch (error) {
          report(error); // a watcher that fails only loses the attribution
        }
      }
      // From here on the app sees this socket (its close hook will run too).
      s.appOpened = true;
      const handler = app.open;
      if (!handler) {
        s.busy = false;
        pump(s);
      } else {
        run(
          s,
          () => handler(peer, s.connection),
          () => {
            s.busy = false;
            pump(s);
          },
        );
      }
    } catch (error) {
      report(error);
      safeClose(peer, CloseCode.InternalError, 'internal error');
    }
  };

  const message: Hooks['message'] = (peer, msg) => {
    const s = stateOf(peer);
    if (!s || s.closing) return;
    if (!s.busy && s.queue.length === 0) {
      handle(s, msg);
      return;
    }
    const n = sizeOf(msg.rawData);
    if (s.queue.length >= maxQueued || s.queuedBytes + n > maxQueuedBytes) {
      closePeer(s, CloseCode.RateLimited, 'too many pending messages');
      return;
    }
    s.queue.push(msg);
    s.queuedBytes += n;
  };

  /**
   * Record a frame the runtime refused on its own, once per socket, unless the guard was closing
   * it already (its own refusal is recorded where it was decided). A throwing classifier is
   * reported, never let out: the close hook must go on to release the connection.
   */
  const noteViolation = (s: PeerState, classify: () => RuntimeViolation | undefined): void => {
    if (s.violationCode !== undefined || s.closeCode !== undefined || s.closed) return;
    try {
      const v = classify();
      if (!v) return;
      s.violationCode = v.closeCode;
      guard.violation(s.connection, v);
    } catch (error) {
      report(error);
    }
  };

  const close: Hooks['close'] = (peer, details) => {
    const s = stateOf(peer);
    if (!s || s.closed) return;
    const fromClose = signals?.fromClose;
    if (fromClose)
      noteViolation(s, () => fromClose(details.code ?? 1005, String(details.reason ?? '')));
    // The code the connection ended with, and who chose it: the guard's, else the runtime's
    // refusal of a frame over the guard's limits (Bun reports 1006 for a close it started with
    // 1009), else the app's own close, else whatever the client sent (any code it likes, 4030
    // included: counted by class only, never as the guard's).
    const guardCode = s.closeCode ?? s.violationCode;
    if (guardCode !== undefined) release(s, 'guard', guardCode);
    else if (s.appCloseCode !== undefined) release(s, 'app', s.appCloseCode);
    else release(s, 'client', details.code ?? 1005);
    const handler = app.close;
    if (s.appOpened && handler) {
      try {
        const r = handler(peer, details, s.connection);
        if (isThenable(r)) r.then(undefined, (e: unknown) => report(e));
      } catch (error) {
        report(error);
      }
    }
  };

  /** Forward an event to the app; failures are reported (the socket may be gone already). */
  const forward =
    <A extends unknown[]>(pick: () => ((peer: Peer, ...args: A) => unknown) | undefined) =>
    (peer: Peer, ...args: A): void => {
      const handler = pick();
      const s = stateOf(peer);
      if (!handler || !s?.appOpened) return;
      run(s, () => handler(peer, ...args));
    };

  const forwardError = forward(() => app.error);

  return {
    upgrade,
    open,
    message,
    close,
    error(peer: Peer, error: WSError): void {
      const fromError = signals?.fromError;
      const s = stateOf(peer);
      if (s && fromError) noteViolation(s, () => fromError(error));
      forwardError(peer, error);
    },
    drain: forward(() => app.drain),
    ping: forward(() => app.ping),
    pong: forward(() => app.pong),
    abandon(request: Request): Promise<void> {
      const slots = request as RequestSlots;
      const s = slots[PENDING];
      if (s) {
        slots[PENDING] = undefined;
        // The runtime refused the socket after the guard accepted it (it died meanwhile).
        if (!s.opened) release(s, 'client');
      }
      return DONE;
    },
    stop(): void {
      stopped = true;
    },
    drained(timeoutMs: number): Promise<boolean> {
      if (live.size === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(ok);
        };
        const onIdle = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(onIdle);
      });
    },
    terminateAll(): void {
      for (const s of live) {
        // The end of a shutdown: the guard's close, not the app's (terminate is wrapped).
        s.closeCode ??= CloseCode.GoingAway;
        s.closing = true;
        try {
          s.peer?.terminate();
        } catch {
          // Already gone.
        }
      }
    },
    get size(): number {
      return live.size;
    },
  };
}
