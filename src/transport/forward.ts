/**
 * The events passed on to the app as they come (`error`, `drain`, `ping`, `pong`). Only for
 * sockets the app saw open; a failing handler closes with 1011. A socket error is first offered to the
 * runtime-refusal signals (Node reports a refused frame as an error).
 *
 * @module
 */
import type { Peer, WSError } from 'crossws';
import type { GuardedHooks } from '../guard/types.ts';
import { run } from './app-call.ts';
import type { HooksContext } from './context.ts';
import { noteViolation } from './runtime-violations.ts';
import { stateOf } from './slots.ts';

/** Forward an event to the app; failures are reported (the socket may be gone already). */
export function forward<A extends unknown[]>(
  ctx: HooksContext,
  pick: (app: GuardedHooks) => ((peer: Peer, ...args: A) => unknown) | undefined,
): (peer: Peer, ...args: A) => void {
  return (peer, ...args) => {
    const handler = pick(ctx.app);
    const s = stateOf(peer);
    if (!handler || !s?.appOpened) return;
    run(ctx, s, () => handler(peer, ...args));
  };
}

/** The error hook: a runtime refusal is recorded, then the error goes to the app. */
export function errorHook(ctx: HooksContext): (peer: Peer, error: WSError) => void {
  const forwardError = forward(ctx, (app) => app.error);
  return (peer, error) => {
    const fromError = ctx.signals?.fromError;
    const s = stateOf(peer);
    if (s && fromError) noteViolation(ctx, s, () => fromError(error));
    forwardError(peer, error);
  };
}
