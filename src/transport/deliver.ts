/**
 * A frame's decision carried out: delivered to the app's `message` hook, answered with the
 * guard's error reply (or the app's `refused` hook), or the connection closed.
 *
 * @module
 */
import type { Message } from 'crossws';
import type { MessageDecision } from '../guard/types.ts';
import { isThenable, run } from './app-call.ts';
import { closePeer, fail } from './close.ts';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';

/** Carry out the guard's decision on `message` (whose raw frame is `frame`). */
export function apply(
  ctx: HooksContext,
  s: PeerState,
  message: Message,
  d: MessageDecision,
  frame: string | ArrayBuffer | ArrayBufferView,
): void {
  if (s.closing) return;
  const peer = s.peer!;
  if (d.action === 'deliver') {
    const handler = ctx.app.message;
    if (!handler) return;
    // The hot path: no closure per frame (see `run` for the same logic).
    let r: unknown;
    try {
      r = handler(peer, message, {
        connection: s.connection,
        value: d.value,
        authenticated: d.authenticated === true,
      });
    } catch (error) {
      fail(ctx, s, error);
      return;
    }
    if (isThenable(r)) r.then(undefined, (error: unknown) => fail(ctx, s, error));
  } else if (d.action === 'reply') {
    const refused = ctx.app.refused;
    if (refused) run(ctx, s, () => refused(peer, d.reply, frame, s.connection));
    else peer.send(JSON.stringify(d.reply));
  } else closePeer(ctx, s, d.code, d.message);
}
