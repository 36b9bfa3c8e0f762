/**
 * The release of a connection: what the guard holds for it (caps, counters, leases) is given
 * back, once, with who ended it, so the guard counts and audits only its own closes as its own.
 *
 * @module
 */
import type { CloseInitiator } from '../observability/stats.ts';
import type { HooksContext } from './context.ts';
import { clearTimer, type PeerState } from './peer-state.ts';

/** Give back what the guard holds for a connection (idempotent). `by`: who ended it. */
export function release(ctx: HooksContext, s: PeerState, by: CloseInitiator, code?: number): void {
  if (s.closed) return;
  s.closed = true;
  s.closing = true;
  s.queue = undefined;
  s.queuedBytes = 0;
  clearTimer(s);
  if (ctx.live.delete(s)) {
    if (ctx.live.size === 0) {
      ctx.sweep.stop();
      for (const w of ctx.idle) w();
    }
  }
  ctx.guard.close(s.connection, code, by).catch(ctx.report.close);
}
