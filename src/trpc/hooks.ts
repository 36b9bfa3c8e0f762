/**
 * The bridge as wsguard's crossws app hooks: pass `trpcHooks(bridge)` as `hooks` to any adapter's
 * `serve` (Node, Bun, Deno) and the router is served over the guarded socket.
 *
 * @module
 */
import type { Peer } from 'crossws';
import type { GuardedHooks } from '../guard/types.ts';
import type { TRPCBridge, TRPCSession } from './types.ts';

/** A frame's size in bytes (a string's length is a lower bound), or undefined when unknown. */
function sizeOf(raw: unknown): number | undefined {
  if (typeof raw === 'string') return raw.length;
  if (raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) return raw.byteLength;
  return undefined;
}

/**
 * crossws hooks that serve a tRPC bridge. Each peer gets one bridge session, opened when the guard
 * has accepted the socket and closed with it. A frame the guard refuses (rate limit, invalid
 * message) is answered with one tRPC error per call in it.
 *
 * @example
 * ```ts
 * const bridge = createTRPCBridge({ router, guard });
 * const server = await serve({ guard, hooks: trpcHooks(bridge), port: 8787 });
 * ```
 */
export function trpcHooks(bridge: TRPCBridge): GuardedHooks {
  const sessions = new WeakMap<Peer, TRPCSession>();
  return {
    open(peer, connection) {
      const session = bridge.open(
        {
          send: (data) => peer.send(data),
          close: (code, reason) => peer.close(code, reason),
          get bufferedAmount(): number {
            return peer.bufferedAmount;
          },
        },
        connection,
        peer.request,
      );
      sessions.set(peer, session);
    },
    message(peer, message, guarded) {
      const session = sessions.get(peer);
      // The frame's size bounds what refusing it may cost (a batch over the limit or the rate).
      if (session) bridge.message(session, guarded.value, sizeOf(message.rawData));
    },
    refused(peer, reply, frame) {
      // The guard's own reply has no call id, so tRPC's client would ignore it and the calls in
      // the frame would wait forever: answer each of them in tRPC's protocol instead.
      const session = sessions.get(peer);
      if (session) bridge.refused(session, reply, frame);
    },
    close(peer) {
      const session = sessions.get(peer);
      if (session) {
        sessions.delete(peer);
        bridge.close(session);
      }
    },
  };
}
