/**
 * The close hook, where every close is attributed before the connection is released. The guard's
 * own, the runtime's refusal of a frame over the guard's limits, the app's (`peer.close` from an
 * app hook), or the client's: so a client closing with 4030 is never counted or audited as the
 * guard's ban. Then the app's `close` runs, if the app saw the socket open.
 *
 * @module
 */
import type { Hooks } from 'crossws';
import { isThenable } from './app-call.ts';
import type { HooksContext } from './context.ts';
import { release } from './release.ts';
import { noteViolation } from './runtime-violations.ts';
import { stateOf } from './slots.ts';

/** The close hook of one set of hooks. Never throws. */
export function closeHook(ctx: HooksContext): Hooks['close'] {
  return (peer, details) => {
    const s = stateOf(peer);
    if (!s || s.closed) return;
    const fromClose = ctx.signals?.fromClose;
    if (fromClose)
      noteViolation(ctx, s, () => fromClose(details.code ?? 1005, String(details.reason ?? '')));
    // The code the connection ended with, and who chose it: the guard's, else the runtime's
    // refusal of a frame over the guard's limits (Bun reports 1006 for a close it started with
    // 1009), else the app's own close, else whatever the client sent (any code it likes, 4030
    // included: counted by class only, never as the guard's).
    const guardCode = s.closeCode ?? s.violationCode;
    if (guardCode !== undefined) release(ctx, s, 'guard', guardCode);
    else if (s.appCloseCode !== undefined) release(ctx, s, 'app', s.appCloseCode);
    else release(ctx, s, 'client', details.code ?? 1005);
    const handler = ctx.app.close;
    if (s.appOpened && handler) {
      try {
        const r = handler(peer, details, s.connection);
        if (isThenable(r)) r.then(undefined, ctx.report.hook);
      } catch (error) {
        ctx.report.hook(error);
      }
    }
  };
}
