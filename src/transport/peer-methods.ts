/**
 * The guard's own `send`, `close` and `terminate` of an open peer: every send is followed by a
 * look at the buffer (a client that does not read is closed before the server holds more than
 * `maxBufferedBytes` for it, and nothing is sent once the socket closes), and a close the app
 * starts itself is noted as the app's before the runtime reports it (the runtime's close event
 * carries the client's echo of the code, as for any close).
 *
 * Shared, not made per socket: one set of three functions per set of hooks, installed on each
 * peer as own properties, finding the peer's state through `this` and calling the method the
 * peer inherited. Bound copies and closures per socket cost ~0.4 KiB of every idle connection.
 * A peer whose method is already its own (another wrapper) keeps a bound copy of it instead.
 *
 * @module
 */
import type { Peer } from 'crossws';
import type { PeerState } from './peer-state.ts';
import { stateOf } from './slots.ts';

type Send = (data: unknown, opts?: { compress?: boolean }) => number;
type Close = (code?: number, reason?: string) => void;
type Terminate = () => void;

/** The three methods of one set of hooks, shared by all its peers. */
export interface PeerMethods {
  readonly send: Send;
  readonly close: Close;
  readonly terminate: Terminate;
  /** Close a peer whose send buffer is over the limit. */
  readonly checkBuffer: (s: PeerState) => void;
}

/** The buffer check of each set of hooks, by the `send` it installs (one entry per set). */
const checkOfSend = new WeakMap<object, (s: PeerState) => void>();

/** The method `peer` has under `name` before the guard's: its prototype's, unless its own. */
type Original<F> = (peer: Peer) => F;
const inherited =
  <F>(name: 'send' | 'close' | 'terminate'): Original<F> =>
  (peer) =>
    (Object.getPrototypeOf(peer) as Record<string, F>)[name]!;

const protoSend = inherited<Send>('send');
const protoClose = inherited<Close>('close');
const protoTerminate = inherited<Terminate>('terminate');

/**
 * The shared methods of one set of hooks' peers (built once per set of hooks); `checkBuffer`
 * closes a peer whose send buffer is over the limit (`overBuffer`).
 */
export function createPeerMethods(checkBuffer: (s: PeerState) => void): PeerMethods {
  const methods: PeerMethods = {
    checkBuffer,
    send(this: Peer, data, opts) {
      const s = stateOf(this);
      if (s?.closing) return 0;
      const r = protoSend(this).call(this, data, opts);
      if (s) checkBuffer(s);
      return r;
    },
    close(this: Peer, code, reason) {
      const s = stateOf(this);
      if (s && !s.closing) s.appCloseCode ??= code ?? 1005;
      return protoClose(this).call(this, code, reason);
    },
    terminate(this: Peer) {
      const s = stateOf(this);
      if (s && !s.closing) s.appCloseCode ??= 1006;
      return protoTerminate(this).call(this);
    },
  };
  checkOfSend.set(methods.send, checkBuffer);
  return methods;
}

/**
 * After a send that did not go through `peer.send` (an integration whose app sends on the
 * runtime's socket itself, as a `ws` app does): the same look at the buffer `peer.send` takes,
 * so a client that does not read is closed as soon as the server holds too much for it, not at
 * the buffer sweep's next look (a second later, by when an app can have queued any amount).
 */
export function checkAfterSend(peer: Peer): void {
  const s = stateOf(peer);
  const check = s && checkOfSend.get(peer.send);
  if (check) check(s);
}

/** For a peer whose methods are its own already: bound copies, as wrappers of those. */
function wrapOwn(m: PeerMethods, s: PeerState, peer: Peer): void {
  const send = peer.send.bind(peer);
  const close = peer.close.bind(peer);
  const terminate = peer.terminate.bind(peer);
  const checked = (data: unknown, opts?: { compress?: boolean }) => {
    if (s.closing) return 0;
    const r = send(data, opts);
    m.checkBuffer(s);
    return r;
  };
  checkOfSend.set(checked, m.checkBuffer);
  peer.send = checked;
  peer.close = (code?: number, reason?: string) => {
    if (!s.closing) s.appCloseCode ??= code ?? 1005;
    return close(code, reason);
  };
  peer.terminate = () => {
    if (!s.closing) s.appCloseCode ??= 1006;
    return terminate();
  };
}

/** Install the guard's `send`, `close` and `terminate` on a peer that just opened. */
export function installPeerMethods(m: PeerMethods, s: PeerState, peer: Peer): void {
  if (
    Object.hasOwn(peer, 'send') ||
    Object.hasOwn(peer, 'close') ||
    Object.hasOwn(peer, 'terminate')
  ) {
    wrapOwn(m, s, peer);
    return;
  }
  peer.send = m.send;
  peer.close = m.close;
  peer.terminate = m.terminate;
}
