/**
 * Which tRPC sessions are open, by guard connection id, so the admin view can show each open
 * connection's live subscription count. The bridge does not list its sessions; this wraps it and
 * notes each one between `open` and `close`.
 */
import type { TRPCBridge, TRPCSession } from '../../../src/trpc.ts';

/** A bridge that remembers its sessions. */
export interface SessionBook {
  /** The wrapped bridge: hand this one to the hooks. */
  readonly bridge: TRPCBridge;
  /** Live subscriptions of the connection `id`, or `undefined` when it has no tRPC session. */
  subscriptions(id: string): number | undefined;
}

/** Wrap `inner` so its sessions can be read by connection id. */
export function sessionBook(inner: TRPCBridge): SessionBook {
  const sessions = new Map<string, TRPCSession>();
  const bridge: TRPCBridge = {
    open(socket, connection, request) {
      const session = inner.open(socket, connection, request);
      sessions.set(connection.id, session);
      return session;
    },
    message: (session, value, frameBytes) => inner.message(session, value, frameBytes),
    refused: (session, reply, frame) => inner.refused(session, reply, frame),
    close(session) {
      sessions.delete(session.connection.id);
      inner.close(session);
    },
    reauthorize: (filter) => inner.reauthorize(filter),
    broadcastReconnect: () => inner.broadcastReconnect(),
    get size() {
      return inner.size;
    },
  };
  return { bridge, subscriptions: (id) => sessions.get(id)?.subscriptions };
}
