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
 * Where a peer's session lives: a property of the peer, which dies with it, not a WeakMap (one
 * churned at handshake rate costs the garbage collector an ephemeron table to walk).
 */
const SESSION = Symbol('wsguard.trpcSession');
type Slotted = Peer & { [SESSION]?: TRPCSession | undefined };

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
  return {
    open(peer, connection) {
      // The peer is the socket (its `send`, `close` and `bufferedAmount` are what the bridge
      // uses, the guard's own included): no wrapper object and closures per connection.
      (peer as Slotted)[SESSION] = bridge.open(peer, connection, peer.request);
    },
    message(peer, message, guarded) {
      const session = (peer as Slotted)[SESSION];
      // The frame's size bounds what refusing it may cost (a batch over the limit or the rate).
      if (session) bridge.message(session, guarded.value, sizeOf(message.rawData));
    },
    refused(peer, reply, frame) {
      // The guard's own reply has no call id, so tRPC's client would ignore it and the calls in
      // the frame would wait forever: answer each of them in tRPC's protocol instead.
      const session = (peer as Slotted)[SESSION];
      if (session) bridge.refused(session, reply, frame);
    },
    close(peer) {
      const session = (peer as Slotted)[SESSION];
      if (session) {
        (peer as Slotted)[SESSION] = undefined;
        bridge.close(session);
      }
    },
  };
}
