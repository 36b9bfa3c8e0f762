/**
 * A session's {@link GuardedContext}, built once, on its first call. The guarded fields read
 * through to the guard's state (an in-band refresh replaces the principal, and re-authorizes the
 * session's subscriptions), and they always win over what the app's `createContext` returns.
 *
 * @module
 */
import { TRPCError } from '@trpc/server';
import type { Principal } from '../auth/principal.ts';
import { isGuardError } from '../core/errors.ts';
import type { BridgeContext } from './bridge-context.ts';
import type { GuardedContext } from './context.ts';
import { reauthorizeSession } from './reauthorize.ts';
import type { Session } from './session.ts';

/** The guarded fields of a session's context, with the app's fields added under them. */
function buildContext(b: BridgeContext, s: Session): Promise<GuardedContext> {
  const { guard, options } = b;
  const c = s.connection;
  const base: GuardedContext = {
    get principal(): Principal {
      // Read through to the guard's state: an in-band refresh replaces the principal.
      return c.principal as Principal;
    },
    connection: { id: c.id, ip: c.ip, origin: c.origin, userAgent: c.userAgent },
    can: (permission) => c.principal !== undefined && guard.can(c.principal, permission),
    canAccess: (resource) =>
      c.principal ? guard.canAccess(c.principal, resource) : Promise.resolve(false),
    refresh: async (token) => {
      let principal: Principal;
      try {
        principal = await guard.refresh(c, token);
      } catch (cause) {
        // A refused credential is the caller's problem, not a server fault.
        throw isGuardError(cause)
          ? new TRPCError({ code: 'UNAUTHORIZED', message: 'invalid token', cause })
          : cause;
      }
      await reauthorizeSession(b, s);
      return principal;
    },
  };
  if (!options.createContext) return Promise.resolve(base);
  return Promise.resolve(
    options.createContext({
      principal: c.principal as Principal,
      connection: c,
      connectionParams: s.connectionParams,
    }),
  ).then((extra) => {
    const ctx = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(extra)) ctx[k] = v;
    return Object.defineProperties(
      ctx,
      Object.getOwnPropertyDescriptors(base),
    ) as unknown as GuardedContext;
  });
}

/** The session's context, building it on first use (a failed build is the calls' to report). */
export function sessionContext(b: BridgeContext, s: Session): Promise<GuardedContext> {
  if (!s.ctx) {
    s.ctx = buildContext(b, s).then((ctx) => {
      s.ctxValue = ctx;
      return ctx;
    });
    s.ctx.catch(() => {});
  }
  return s.ctx;
}
