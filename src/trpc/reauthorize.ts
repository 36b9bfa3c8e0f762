/**
 * Re-authorization of live subscriptions, after an in-band refresh or when the app asks (a role
 * change): each is judged again by its procedure's `meta.permission` and the `reauthorize` hook,
 * against the principal of now, and one no longer allowed is stopped and answered FORBIDDEN once.
 *
 * @module
 */
import { TRPCError } from '@trpc/server';
import type { GuardConnection } from '../state/connection.ts';
import type { BridgeContext } from './bridge-context.ts';
import type { GuardedContext } from './context.ts';
import { permits, resolveProcedure } from './procedure.ts';
import { sendError } from './send.ts';
import type { Session, Subscription } from './session.ts';

/**
 * Whether a live subscription may go on: its procedure's `meta.permission`, then the
 * `reauthorize` hook. A subscription still waiting for its lazy router is resolved here too,
 * so it is judged by its real meta; one that cannot be resolved is not allowed (this rejects).
 */
async function stillAllowed(
  b: BridgeContext,
  ctx: GuardedContext,
  sub: Subscription,
): Promise<boolean> {
  const procedure = sub.procedure ?? (await resolveProcedure(b.router, sub.path, 'subscription'));
  if (!permits(procedure, (permission) => ctx.can(permission))) return false;
  const { options } = b;
  if (options.reauthorize)
    return await options.reauthorize(ctx, { path: sub.path, input: sub.input });
  return true;
}

/** Re-check every live subscription of a session; returns how many were stopped. */
export async function reauthorizeSession(b: BridgeContext, s: Session): Promise<number> {
  if (!s.ctxValue || s.subscriptions === 0) return 0;
  const ctx = s.ctxValue;
  let stopped = 0;
  for (const sub of [...s.subs.values()]) {
    let ok: boolean;
    try {
      ok = await stillAllowed(b, ctx, sub);
    } catch {
      ok = false;
    }
    // The wait may have let it end, or be refused by its own first check: answer it once.
    if (ok || !s.open || sub.controller.signal.aborted || s.subs.get(sub.id) !== sub) continue;
    stopped++;
    sub.forbidden = true;
    sub.controller.abort();
    s.subs.delete(sub.id);
    sendError(
      b,
      s,
      sub.id,
      sub.jsonrpc,
      new TRPCError({ code: 'FORBIDDEN', message: 'subscription no longer permitted' }),
      'subscription',
      sub.path,
      sub.input,
    );
  }
  return stopped;
}

/** Re-check the live subscriptions of every session `filter` selects; returns how many stopped. */
export async function reauthorizeAll(
  b: BridgeContext,
  filter?: (connection: GuardConnection) => boolean,
): Promise<number> {
  let stopped = 0;
  for (const s of [...b.sessions])
    if (!filter || filter(s.connection)) stopped += await reauthorizeSession(b, s);
  return stopped;
}
