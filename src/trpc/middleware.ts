/**
 * Procedure middlewares for tRPC v11: permissions (explicit or from `meta.permission`),
 * per-resource checks, and rate limits per procedure and principal. Each is a plain function, so
 * it plugs into any `t.procedure.use(...)` without sharing a tRPC instance with wsguard.
 *
 * @module
 */
import { isTrackedEnvelope, TRPCError, tracked } from '@trpc/server';
import { LocalLimiter, type RateRule } from '../core/rate-limit.ts';
import type { StandardSchemaV1 } from '../core/standard-schema.ts';
import type { GuardedContext, GuardedMeta } from './context.ts';

/** The middleware options wsguard reads (a subset of tRPC's). */
export interface MiddlewareArgs {
  /** The guarded context. */
  readonly ctx: GuardedContext;
  /** Procedure meta. */
  readonly meta?: GuardedMeta | undefined;
  /** Procedure path. */
  readonly path: string;
  /** Raw input, before the procedure's parser. */
  readonly getRawInput: () => Promise<unknown>;
  /** Continue. */
  readonly next: () => Promise<unknown>;
}

/** A middleware function as tRPC calls it. */
export type GuardMiddleware = <T extends MiddlewareArgs>(opts: T) => ReturnType<T['next']>;

/**
 * Refuse the call (FORBIDDEN) unless the principal holds `permission`, or the procedure's
 * `meta.permission` when no argument is given.
 *
 * @example
 * ```ts
 * const send = t.procedure.use(requirePermission('chat.send')).input(...).mutation(...);
 * ```
 */
export function requirePermission(permission?: string): GuardMiddleware {
  return ((opts: MiddlewareArgs) => {
    const required = permission ?? opts.meta?.permission;
    if (required !== undefined && !opts.ctx.can(required)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `permission required: ${required}` });
    }
    return opts.next();
  }) as GuardMiddleware;
}

/**
 * Refuse the call (FORBIDDEN) unless `canAccess(principal, resource(input))` allows it.
 *
 * @example
 * ```ts
 * t.procedure.use(requireAccess((input) => `room:${(input as { room: string }).room}`))
 * ```
 */
export function requireAccess(
  resource: (rawInput: unknown) => string | undefined,
): GuardMiddleware {
  return (async (opts: MiddlewareArgs) => {
    const r = resource(await opts.getRawInput());
    if (r !== undefined && !(await opts.ctx.canAccess(r))) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'access denied' });
    }
    return opts.next();
  }) as unknown as GuardMiddleware;
}

/**
 * Limit calls per procedure and principal (GCRA, local to this process: it runs on every call, so
 * it never waits on a store). Over the limit: TOO_MANY_REQUESTS.
 *
 * @example
 * ```ts
 * t.procedure.use(rateLimit({ limit: 5, windowMs: 1000 }))
 * ```
 */
export function rateLimit(rule: RateRule): GuardMiddleware {
  const limiter = new LocalLimiter(rule);
  return ((opts: MiddlewareArgs) => {
    const r = limiter.take(`${opts.path}\u0000${opts.ctx.principal.sub}`, Date.now());
    if (!r.allowed) {
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `rate limit exceeded; retry in ${r.retryAfterMs} ms`,
      });
    }
    return opts.next();
  }) as GuardMiddleware;
}

/**
 * Validate every event a subscription yields against `schema` (zod 4 or any Standard Schema),
 * sending the schema's output (zod objects strip unknown keys), so a server bug cannot leak fields
 * the contract does not allow. `tracked()` events are validated on their data. An event that
 * fails ends the subscription with INTERNAL_SERVER_ERROR and a generic message. tRPC's own
 * `.output()` cannot do this: on a subscription it would parse the iterable itself.
 *
 * @example
 * ```ts
 * t.procedure.use(eventOutput(ChatMessage)).subscription(async function* () { ... })
 * ```
 */
export function eventOutput(schema: StandardSchemaV1): GuardMiddleware {
  const check = async (value: unknown): Promise<unknown> => {
    let r = schema['~standard'].validate(value);
    if (r instanceof Promise) r = await r;
    if (r.issues)
      throw new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'event failed output validation',
      });
    return r.value;
  };
  async function* validated(source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
    for await (const value of source) {
      if (isTrackedEnvelope(value)) {
        const [id, data] = value;
        yield tracked(id, await check(data));
      } else yield await check(value);
    }
  }
  return (async (opts: MiddlewareArgs) => {
    const result = (await opts.next()) as { ok: boolean; data?: unknown };
    if (!result.ok || !isAsyncIterable(result.data)) return result;
    return { ...result, data: validated(result.data) };
  }) as unknown as GuardMiddleware;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
