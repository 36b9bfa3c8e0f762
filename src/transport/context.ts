/**
 * What every part of one set of hooks shares: the guard (through its narrow pipeline), the app's
 * hooks, the options with their defaults resolved, the error reporters and the open sockets. One
 * is built per `guardHooks` call and passed to each part, so the parts are plain functions and no
 * closure is made per frame.
 *
 * @module
 */
import type { RuntimeViolationSignals } from '../core/runtime-violation.ts';
import type { ClientInfo, GuardedHooks } from '../guard/types.ts';
import type { BufferSweep } from './buffer-sweep.ts';
import type { PeerMethods } from './peer-methods.ts';
import type { PeerState } from './peer-state.ts';
import type { GuardPipeline } from './pipeline.ts';

/** Reporters of failures by stage; none ever throws. */
export interface HooksReport {
  /** A hook failed (the app's or the guard's). */
  readonly hook: (error: unknown) => void;
  /** A handshake failed. */
  readonly upgrade: (error: unknown) => void;
  /** Releasing a connection failed. */
  readonly close: (error: unknown) => void;
}

/** The shared state of one set of hooks. */
export interface HooksContext {
  /** What the hooks use of the guard. */
  readonly guard: GuardPipeline;
  /** The app's hooks. */
  readonly app: GuardedHooks;
  /** `maxBufferedBytes`. */
  readonly maxBuffered: number;
  /** `maxQueuedMessages`. */
  readonly maxQueued: number;
  /** `maxQueuedBytes`. */
  readonly maxQueuedBytes: number;
  /** `openTimeoutMs`. */
  readonly openTimeoutMs: number;
  /** `closeTimeoutMs`. */
  readonly closeTimeoutMs: number;
  /** `path`. */
  readonly path: string | undefined;
  /** `clientInfo`. */
  readonly clientInfo: ((request: Request) => ClientInfo | undefined) | undefined;
  /** `runtimeViolations`. */
  readonly signals: RuntimeViolationSignals | undefined;
  /** Where failures go (`onError`). */
  readonly report: HooksReport;
  /** The open sockets. */
  readonly live: Set<PeerState>;
  /** Called once no socket is open (`drained` waits this way). */
  readonly idle: Set<() => void>;
  /** The buffer sweep over {@link live}. */
  readonly sweep: BufferSweep;
  /** The guard's `send`/`close`/`terminate`, shared by every peer of these hooks. */
  readonly peerMethods: PeerMethods;
  /**
   * The guard's close of a socket (`closePeer`) with the socket's state as `this`: bound to
   * it, it is the `terminate` the guard is given at attach, one bound function a connection
   * instead of a closure and its context (~50 B less each).
   */
  readonly terminate: (this: PeerState, code: number, reason: string) => void;
  /** `stop()` was called: new handshakes are refused. */
  stopped: boolean;
}
