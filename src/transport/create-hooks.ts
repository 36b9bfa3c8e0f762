/**
 * The hooks' factory: one {@link HooksContext} per call, with the options' defaults resolved,
 * and the hooks built on it. It takes only the {@link GuardPipeline}, the members of the guard
 * the hooks call; `guardHooks` hands it the whole guard.
 *
 * @module
 */
import type { GuardedHooks, GuardHooks, GuardHooksOptions } from '../guard/types.ts';
import { createReporter } from '../observability/report.ts';
import { BufferSweep } from './buffer-sweep.ts';
import { closePeer } from './close.ts';
import { closeHook } from './close-hook.ts';
import type { HooksContext } from './context.ts';
import { errorHook, forward } from './forward.ts';
import { receive } from './frame-queue.ts';
import { openHook } from './open-hook.ts';
import { createPeerMethods } from './peer-methods.ts';
import type { PeerState } from './peer-state.ts';
import type { GuardPipeline } from './pipeline.ts';
import { drained, stop, terminateAll } from './shutdown.ts';
import { overBuffer } from './slow-client.ts';
import { abandon, upgradeHook } from './upgrade-hook.ts';

/** The shared state of one set of hooks, the options' defaults resolved. */
export function createHooksContext(
  guard: GuardPipeline,
  app: GuardedHooks,
  options: GuardHooksOptions,
): HooksContext {
  const reporter = createReporter(options.onError);
  const live = new Set<PeerState>();
  const ctx: HooksContext = {
    guard,
    app,
    maxBuffered: options.maxBufferedBytes ?? 1024 * 1024,
    maxQueued: options.maxQueuedMessages ?? 64,
    maxQueuedBytes: options.maxQueuedBytes ?? 1024 * 1024,
    openTimeoutMs: options.openTimeoutMs ?? 10_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    path: options.path,
    clientInfo: options.clientInfo,
    signals: options.runtimeViolations,
    report: { hook: reporter('hook'), upgrade: reporter('upgrade'), close: reporter('close') },
    live,
    idle: new Set(),
    // The sweep and the sends run later, once a socket opens: `ctx` is defined by then.
    sweep: new BufferSweep(options.bufferCheckMs ?? 1000, live, (s) => overBuffer(ctx, s)),
    peerMethods: createPeerMethods((s) => overBuffer(ctx, s)),
    terminate(code, reason) {
      closePeer(ctx, this, code, reason);
    },
    stopped: false,
  };
  return ctx;
}

/** crossws hooks with `guard` in front of `app` (see `guardHooks`). */
export function createGuardHooks(
  guard: GuardPipeline,
  app: GuardedHooks = {},
  options: GuardHooksOptions = {},
): GuardHooks {
  const ctx = createHooksContext(guard, app, options);
  return {
    upgrade: upgradeHook(ctx),
    open: openHook(ctx),
    message: (peer, msg) => receive(ctx, peer, msg),
    close: closeHook(ctx),
    error: errorHook(ctx),
    drain: forward(ctx, (a) => a.drain),
    ping: forward(ctx, (a) => a.ping),
    pong: forward(ctx, (a) => a.pong),
    abandon: (request) => abandon(ctx, request),
    stop: () => stop(ctx),
    drained: (timeoutMs) => drained(ctx, timeoutMs),
    terminateAll: () => terminateAll(ctx),
    get size(): number {
      return ctx.live.size;
    },
  };
}
