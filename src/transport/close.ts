/**
 * The guard's close of a socket: the close frame with a reason that fits, then the close timeout;
 * a socket whose close throws is cut. A failing hook closes with 1011 the same way.
 *
 * @module
 */
import type { Peer } from 'crossws';
import { CloseCode } from '../core/codes.ts';
import { utf8Prefix } from '../core/encoding.ts';
import type { HooksContext } from './context.ts';
import { clearTimer, type PeerState } from './peer-state.ts';
import { release } from './release.ts';
import { armCloseTimer } from './timers.ts';

/** A close reason is at most 123 bytes of UTF-8; longer ones make some runtimes throw. */
const reasonOf = (reason: string): string => utf8Prefix(reason, 123);

/** Close `peer`; if that throws, report it and cut the socket. Never throws. */
export function safeClose(ctx: HooksContext, peer: Peer, code: number, reason: string): void {
  try {
    peer.close(code, reasonOf(reason));
  } catch (error) {
    ctx.report.hook(error);
    try {
      peer.terminate();
    } catch {
      // Already gone.
    }
  }
}

/**
 * Start the guard's close of a socket (once): frames stop, the close frame goes out and the close
 * timeout starts. A socket that has not opened yet is released at once.
 */
export function closePeer(ctx: HooksContext, s: PeerState, code: number, reason: string): void {
  if (s.closing) return;
  s.closing = true;
  s.closeCode = code;
  s.queue = undefined;
  s.queuedBytes = 0;
  const peer = s.peer;
  if (!peer) {
    release(ctx, s, 'guard', code);
    return;
  }
  safeClose(ctx, peer, code, reason);
  clearTimer(s);
  armCloseTimer(ctx, s, peer);
}

/** A hook failed: report it and close with 1011. */
export function fail(ctx: HooksContext, s: PeerState, error: unknown): void {
  ctx.report.hook(error);
  s.busy = false;
  closePeer(ctx, s, CloseCode.InternalError, 'internal error');
}
