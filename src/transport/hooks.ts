/**
 * The guard as crossws hooks: every handshake goes through `guard.upgrade`, every frame through
 * `guard.message` before the app sees it, every close through `guard.close`. Runtime-free: the
 * adapters in `adapters/` supply the client address; any other crossws server can too, with
 * {@link setClient} or the `clientInfo` option.
 *
 * What the hooks add on top of the guard (each in its own module of this folder):
 * - frames are decided in order, one at a time, even when a decision is async (first-message
 *   auth, an async `canAccess`); frames waiting meanwhile are bounded (`frame-queue.ts`);
 * - a client that does not read (`bufferedAmount` over a limit) is closed with 1013
 *   (`slow-client.ts`, `buffer-sweep.ts`);
 * - a failing app hook is reported and closes with 1011; no hook ever rejects into the runtime
 *   (`app-call.ts`);
 * - a handshake the runtime refuses after the guard accepted it is released (caps, counters)
 *   (`upgrade-hook.ts`, `timers.ts`);
 * - every close is attributed: the guard's own, the app's (`peer.close` from an app hook), or the
 *   client's, so a client closing with 4030 is never counted or audited as the guard's ban
 *   (`open-hook.ts`, `close-hook.ts`, `runtime-violations.ts`).
 *
 * @module
 */
import type { Guard, GuardedHooks, GuardHooks, GuardHooksOptions } from '../guard/types.ts';
import { createGuardHooks } from './create-hooks.ts';

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
  return createGuardHooks(guard, app, options);
}
