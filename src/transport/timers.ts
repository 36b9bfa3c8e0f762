/**
 * The two deadlines of a socket, which share its one timer slot: the open timeout (an accepted
 * handshake whose socket never opens is released) and the close timeout (a client that never
 * reads never answers the close frame either, so it is cut).
 *
 * @module
 */
import type { Peer } from 'crossws';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';
import { release } from './release.ts';

const unref = (timer: ReturnType<typeof setTimeout>): void =>
  (timer as { unref?: () => void }).unref?.();

/** Release the accepted handshake if its socket has not opened within `openTimeoutMs`. */
export function armOpenTimer(ctx: HooksContext, s: PeerState): void {
  if (!(ctx.openTimeoutMs > 0)) return;
  s.timer = setTimeout(() => {
    s.timer = undefined;
    if (!s.opened) release(ctx, s, 'guard');
  }, ctx.openTimeoutMs);
  unref(s.timer);
}

/** Cut the socket if the client has not answered the guard's close within `closeTimeoutMs`. */
export function armCloseTimer(ctx: HooksContext, s: PeerState, peer: Peer): void {
  s.timer = setTimeout(() => {
    s.timer = undefined;
    if (!s.closed) {
      try {
        peer.terminate();
      } catch {
        // Already gone.
      }
    }
  }, ctx.closeTimeoutMs);
  unref(s.timer);
}
