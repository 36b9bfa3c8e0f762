/**
 * The open hook, where a socket the guard accepted becomes live. Its sends are checked against the
 * buffer limit, its closes are attributed (the app's own `peer.close` is told apart from the
 * client's), the guard may close it itself (`attach`), and once the app's `open` settles the
 * frames that waited meanwhile are decided.
 *
 * @module
 */
import type { Hooks, Peer } from 'crossws';
import { CloseCode } from '../core/codes.ts';
import { run } from './app-call.ts';
import { safeClose } from './close.ts';
import type { HooksContext } from './context.ts';
import { pump } from './frame-queue.ts';
import { installPeerMethods } from './peer-methods.ts';
import { clearTimer, type PeerState } from './peer-state.ts';
import { release } from './release.ts';
import { watchViolations } from './runtime-violations.ts';
import { rejectionOf, stateOf } from './slots.ts';

/** Hand the socket to the app; frames wait until its `open` settles. */
function openApp(ctx: HooksContext, s: PeerState, peer: Peer): void {
  // From here on the app sees this socket (its close hook will run too).
  s.appOpened = true;
  const handler = ctx.app.open;
  if (!handler) {
    s.busy = false;
    pump(ctx, s);
  } else {
    run(
      ctx,
      s,
      () => handler(peer, s.connection),
      () => {
        s.busy = false;
        pump(ctx, s);
      },
    );
  }
}

/** The socket of an accepted handshake opened: make it live, then open it to the app. */
function goLive(ctx: HooksContext, s: PeerState, peer: Peer): void {
  clearTimer(s);
  s.opened = true;
  s.peer = peer;
  if (s.closed || s.connection.closed) {
    // Released while the handshake completed (shutdown, open timeout).
    s.closing = true;
    safeClose(ctx, peer, CloseCode.GoingAway, 'server shutting down');
    release(ctx, s, 'guard');
    return;
  }
  ctx.live.add(s);
  ctx.sweep.start();
  installPeerMethods(ctx.peerMethods, s, peer);
  ctx.guard.attach(s.connection, ctx.terminate.bind(s));
  watchViolations(ctx, s, peer);
  openApp(ctx, s, peer);
}

/** The open hook of one set of hooks. Never throws: a failure closes with 1011. */
export function openHook(ctx: HooksContext): Hooks['open'] {
  return (peer) => {
    try {
      const rejection = rejectionOf(peer);
      if (rejection) {
        safeClose(ctx, peer, rejection.code, rejection.reason);
        return;
      }
      const s = stateOf(peer);
      if (!s) {
        ctx.report.hook(
          new Error('wsguard: a socket opened without the guard accepting its handshake'),
        );
        safeClose(ctx, peer, CloseCode.InternalError, 'internal error');
        return;
      }
      goLive(ctx, s, peer);
    } catch (error) {
      ctx.report.hook(error);
      safeClose(ctx, peer, CloseCode.InternalError, 'internal error');
    }
  };
}
