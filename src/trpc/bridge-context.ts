/**
 * The shared state of one bridge: the router and guard, the options with their defaults
 * resolved, the open sessions, and what is decided once per bridge rather than per frame (the
 * serializer, the error-shape config, the fairness slicer). Every piece of the bridge is a plain
 * function of this context and a session, so none of them allocates a closure per frame.
 *
 * @module
 */
import type { AnyRouter } from '@trpc/server';
import { transformTRPCResponse } from '@trpc/server';
import type { Guard } from '../guard/types.ts';
import { type RouterConfig, shapeConfig } from './error-shape.ts';
import { defaultTransformer } from './internals.ts';
import { createSlicer } from './schedule.ts';
import type { Session } from './session.ts';
import type { TRPCBridgeOptions } from './types.ts';

/** One bridge's shared state (see the module doc). */
export interface BridgeContext {
  /** The options as given: the hooks (`createContext`, `reauthorize`, `onError`) are read here. */
  readonly options: TRPCBridgeOptions<AnyRouter>;
  /** The router served. */
  readonly router: AnyRouter;
  /** The guard whose connections carry the principals. */
  readonly guard: Guard;
  /** The router's root config. */
  readonly config: RouterConfig;
  /** The router's transformer (tRPC's `defaultTransformer` when it set none). */
  readonly transformer: RouterConfig['transformer'];
  /** Live subscriptions per connection. */
  readonly maxSubscriptions: number;
  /** Calls per batch frame, and most replies to a refused frame. */
  readonly maxBatchSize: number;
  /** Bytes buffered for a client before its subscriptions pause. */
  readonly highWaterMark: number;
  /** How long a paused subscription waits for the client to read. */
  readonly drainTimeoutMs: number;
  /** Whether a run of sends has had its slice and should yield to the event loop. */
  readonly shouldYield: () => boolean;
  /** The `exposeStackTraces` option: stacks leave only when it is explicitly true. */
  readonly exposeStacks: boolean;
  /** The config error shapes are built with: the bridge's decision as tRPC's `isDev`. */
  readonly errorConfig: RouterConfig;
  /** A response as the JSON text of its frame. */
  readonly serialize: (message: unknown) => string;
  /** Open sessions. */
  readonly sessions: Set<Session>;
}

/** The context of a new bridge, the options' defaults resolved. */
export function createBridgeContext<TRouter extends AnyRouter>(
  options: TRPCBridgeOptions<TRouter>,
): BridgeContext {
  const { router, guard } = options;
  const config = router._def._config;
  const transformer = config.transformer;
  const exposeStacks = options.exposeStackTraces === true;
  return {
    options,
    router,
    guard,
    config,
    transformer,
    maxSubscriptions: options.maxSubscriptions ?? 100,
    maxBatchSize: options.maxBatchSize ?? 100,
    highWaterMark: options.highWaterMark ?? 256 * 1024,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    shouldYield: createSlicer(options.sliceMs ?? 1),
    exposeStacks,
    // Error shapes are built with the bridge's decision as tRPC's `isDev`, never tRPC's own.
    errorConfig: shapeConfig(config, exposeStacks),
    // Without a transformer, tRPC's transformTRPCResponse only copies the response (two object
    // spreads per event, a measurable share of a subscription's cost) into the same JSON.
    serialize:
      transformer === defaultTransformer
        ? (message) => JSON.stringify(message)
        : // biome-ignore lint/suspicious/noExplicitAny: tRPC's response union is wider than we build
          (message) => JSON.stringify(transformTRPCResponse(config, message as any)),
    sessions: new Set<Session>(),
  };
}
