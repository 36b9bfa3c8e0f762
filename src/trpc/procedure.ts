/**
 * Finding the procedure a call names, `lazy()` routers included, before anything is checked
 * against it. A router's `_def.procedures` only holds what has loaded: a procedure behind a lazy
 * router that no call has reached yet is not there, so a check that read it would find no
 * `meta.permission` and allow. The lookup here is tRPC's own (`getProcedureAtPath`, the one
 * `callProcedure` uses), so it loads exactly what tRPC would load, and the bridge checks and then
 * runs the very procedure it found.
 *
 * @module
 */
import { type AnyProcedure, type AnyRouter, TRPCError } from '@trpc/server';
import type { GuardedMeta } from './context.ts';
import { getProcedureAtPath } from './internals.ts';

/** The procedure types a call can name. */
export type CallType = 'query' | 'mutation' | 'subscription';

/** A procedure as the bridge uses it: callable, with its type and meta. */
export type ResolvedProcedure = AnyProcedure & {
  readonly _def: { readonly type: CallType; readonly meta?: GuardedMeta | undefined };
};

/** tRPC's answer to a call it cannot route (the same code and message as `callProcedure`). */
function notFound(type: string, path: string): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: `No "${type}"-procedure on path "${path}"` });
}

/**
 * The procedure of `type` at `path`, loading the lazy routers on the way (nested ones too; a load
 * is shared by every call that waits for it). Rejects with NOT_FOUND when there is none of that
 * type, and with the loader's error when a lazy router fails to load: a call that cannot be
 * resolved is never run, whatever its meta would have said.
 *
 * Synchronous lookups stay synchronous in effect: a loaded procedure is found in the router's
 * table without waiting on tRPC's loop, so the common case costs no extra turn.
 */
export function resolveProcedure(
  router: AnyRouter,
  path: string,
  type: CallType,
): ResolvedProcedure | Promise<ResolvedProcedure> {
  const known = (router._def.procedures as Record<string, unknown>)[path];
  if (known !== undefined) return checked(known, type, path);
  return getProcedureAtPath(router, path).then((found) => checked(found, type, path));
}

function checked(found: unknown, type: CallType, path: string): ResolvedProcedure {
  // `procedures` is a null-prototype table, but an unknown path may still name anything a
  // router's record holds: only a procedure function of the right type is accepted.
  if (typeof found !== 'function') throw notFound(type, path);
  const def = (found as { _def?: { type?: unknown } })._def;
  if (typeof def !== 'object' || def === null || def.type !== type) throw notFound(type, path);
  return found as ResolvedProcedure;
}

/**
 * Whether `can` grants the procedure's `meta.permission` (true when it names none). A permission
 * that is not a string is a misconfiguration: it denies rather than being read as "none".
 */
export function permits(
  procedure: ResolvedProcedure,
  can: (permission: string) => boolean,
): boolean {
  const permission = procedure._def.meta?.permission;
  if (permission === undefined) return true;
  return typeof permission === 'string' && can(permission);
}
