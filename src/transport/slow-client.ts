/**
 * A client that does not read, closed with 1013 once the server holds more than `maxBufferedBytes`
 * for it. Checked after every `peer.send` (the guard's own: `peer-methods.ts`) and by the buffer sweep.
 *
 * @module
 */
import { CloseCode } from '../core/codes.ts';
import { closePeer } from './close.ts';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';

/** Close the socket with 1013 if its send buffer is over the limit. */
export function overBuffer(ctx: HooksContext, s: PeerState): void {
  if (!s.closing && s.peer && s.peer.bufferedAmount > ctx.maxBuffered)
    closePeer(ctx, s, CloseCode.TryAgainLater, 'client too slow');
}
