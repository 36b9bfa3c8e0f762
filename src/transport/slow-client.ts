/**
 * A client that does not read, closed with 1013 once the server holds more than `maxBufferedBytes`
 * for it. Checked after every `peer.send` (wrapped here) and by the buffer sweep.
 *
 * @module
 */
import type { Peer } from 'crossws';
import { CloseCode } from '../core/codes.ts';
import { closePeer } from './close.ts';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';

/** Close the socket with 1013 if its send buffer is over the limit. */
export function overBuffer(ctx: HooksContext, s: PeerState): void {
  if (!s.closing && s.peer && s.peer.bufferedAmount > ctx.maxBuffered)
    closePeer(ctx, s, CloseCode.TryAgainLater, 'client too slow');
}

/**
 * Follow every send with a look at the buffer, so a client that does not read is closed before
 * the server holds more than `maxBufferedBytes` for it; nothing is sent once the socket closes.
 */
export function checkSends(ctx: HooksContext, s: PeerState, peer: Peer): void {
  const send = peer.send.bind(peer);
  peer.send = (data: unknown, opts?: { compress?: boolean }) => {
    if (s.closing) return 0;
    const r = send(data, opts);
    overBuffer(ctx, s);
    return r;
  };
}
