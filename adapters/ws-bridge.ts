/**
 * The bridge from the guard's hooks to a `ws` app's own handlers: a socket the guard accepted is
 * handed to the app's `WebSocketServer` as its `connection` event, `(ws, req)`, and from then on
 * the app's `message` listeners receive only the frames the guard let through.
 *
 * How: frames reach a `ws` socket as `ws.emit('message', data, isBinary)` from its receiver. The
 * listeners on the socket before the app saw it (crossws's, which feed the guard) are taken off
 * it, and the socket's `emit` is replaced so that a raw `message` reaches them alone; the guard's
 * `message` hook then calls the app's own listeners (all that are on the socket) with the frame it
 * let through. Every other event (`close` with the guard's codes, `error`, `ping`, `pong`) reaches
 * the app as `ws` emits it.
 *
 * On the hot path: a text frame decided while `ws` emits it (every frame, unless one before it is
 * still awaited) reaches the app as the very `Buffer` `ws` received, not a copy encoded back from
 * the text the guard parsed; no array or closure is made per frame.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Message, Peer } from 'crossws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { GuardedHooks, GuardedMessage } from '../src/guard/types.ts';
import type { GuardConnection } from '../src/state/connection.ts';
import { checkAfterSend } from '../src/transport/peer-methods.ts';

/** What crossws's Node peer holds: the `ws` socket and the handshake's request. */
interface NodePeerInternal {
  readonly ws: WebSocket;
  readonly nodeReq: IncomingMessage;
}

// biome-ignore lint/complexity/noBannedTypes: listeners of any shape, as EventEmitter holds them
type Listener = Function;

const internalOf = (peer: Peer): NodePeerInternal =>
  (peer as unknown as { _internal: NodePeerInternal })._internal;

const connections = new WeakMap<object, GuardConnection>();

/** The bridge's state of one socket, under {@link BRIDGE} on the socket. */
interface Bridge {
  /** The guard's peer of the socket (its sends are checked against the buffer limit). */
  readonly peer: Peer;
  /** The listeners that feed the guard (crossws's), no longer on the socket itself. */
  readonly guardSide: readonly Listener[];
  /** The text frame `ws` is emitting now, as it gave it (a `Buffer`); `undefined` between frames. */
  raw: Buffer | undefined;
}

const BRIDGE = Symbol('wsguard.bridge');
type Bridged = WebSocket & { [BRIDGE]?: Bridge };

/**
 * The guard's connection of a socket, or of its handshake request (`req` of the `connection`
 * event): principal, client IP after `trustProxy`, origin, masked URL, expiry.
 */
export function connectionOf(socketOrRequest: WebSocket | IncomingMessage): GuardConnection {
  const connection = connections.get(socketOrRequest);
  if (!connection) throw new Error('wsguard: this socket or request was not accepted by the guard');
  return connection;
}

/** Raw frames go to the guard's listeners only; the app's get them from the guard. */
function routeFramesToGuard(ws: Bridged, peer: Peer): void {
  const guardSide = ws.rawListeners('message');
  ws.removeAllListeners('message');
  const bridge: Bridge = { peer, guardSide, raw: undefined };
  ws[BRIDGE] = bridge;
  const emit = ws.emit;
  ws.emit = function (this: WebSocket, event: string | symbol, data?: unknown, isBinary?: unknown) {
    // biome-ignore lint/complexity/noArguments: passes any event on as it came, with no copy
    if (event !== 'message') return Reflect.apply(emit, this, arguments);
    // The frame the guard decides now: `deliver` hands this Buffer over if it lets it through.
    bridge.raw = isBinary === false && Buffer.isBuffer(data) ? data : undefined;
    try {
      for (let i = 0; i < guardSide.length; i++) guardSide[i]!.call(this, data, isBinary);
    } finally {
      bridge.raw = undefined;
    }
    return guardSide.length > 0;
  } as WebSocket['emit'];
}

/**
 * The socket's own `send` (the app's `ws.send`, with its options and callback, as `ws` has it),
 * followed by the look at the buffer the guard's `peer.send` takes: a client that does not read
 * is closed with 1013 once the server holds more than `maxBufferedBytes` for it, whichever way the
 * app sends. One function for every bridged socket; the socket finds its peer on its bridge.
 */
function checkedSend(this: Bridged): void {
  // biome-ignore lint/complexity/noArguments: passes the app's arguments on as `ws` takes them
  Reflect.apply(Object.getPrototypeOf(this).send, this, arguments);
  const bridge = this[BRIDGE];
  if (bridge) checkAfterSend(bridge.peer);
}

/**
 * The app's `ws.close()` and `ws.terminate()` go through the peer, so the guard records the close
 * as the app's (not the client's); the peer's own close reaches the original methods.
 */
function routeClosesThroughPeer(ws: WebSocket, peer: Peer): void {
  const close = ws.close.bind(ws);
  const terminate = ws.terminate.bind(ws);
  let viaPeer = false;
  const through = (action: () => void, original: () => void): void => {
    if (viaPeer) {
      original();
      return;
    }
    viaPeer = true;
    try {
      action();
    } finally {
      viaPeer = false;
    }
  };
  ws.close = (code?: number, reason?: string | Buffer) =>
    through(
      () => peer.close(code, reason?.toString()),
      () => close(code, reason),
    );
  ws.terminate = () =>
    through(
      () => peer.terminate(),
      () => terminate(),
    );
}

/** Hand a socket the guard opened to the app's server, as `ws` itself would. */
async function handOver(wss: WebSocketServer, peer: Peer, connection: GuardConnection) {
  const { ws, nodeReq } = internalOf(peer);
  // crossws adds its own listeners right after the open hook returns (synchronously): wait for
  // them, so that they are the guard's side and every listener added from now on is the app's.
  await Promise.resolve();
  routeFramesToGuard(ws, peer);
  ws.send = checkedSend as WebSocket['send'];
  routeClosesThroughPeer(ws, peer);
  connections.set(ws, connection);
  connections.set(nodeReq, connection);
  if (wss.clients) {
    wss.clients.add(ws);
    ws.once('close', () => wss.clients.delete(ws));
  }
  // A throw of the app's `connection` handler closes the socket with 1011, reported.
  wss.emit('connection', ws, nodeReq);
}

/** The frame as `ws` gave it: the Buffer it is emitting now, else one made from the message. */
function frameData(ws: Bridged, message: Message): string | Buffer | ArrayBuffer {
  const raw = message.rawData as string | Buffer | ArrayBuffer;
  if (typeof raw !== 'string') return raw;
  const bridge = ws[BRIDGE];
  const current = bridge?.raw;
  if (current === undefined) return Buffer.from(raw); // decided later (a frame before it waited)
  // Once: only the frame being emitted is decided during its emit (later ones queue behind it).
  bridge!.raw = undefined;
  return current;
}

/**
 * Call the app's `message` listeners with a frame the guard let through: `(data, isBinary,
 * guarded)` (text as a `Buffer`, as `ws` gives it; `guarded.value` is the parsed JSON). The
 * first-message credential is not a message of the app's: it is the `authenticated` event.
 */
function deliver(peer: Peer, message: Message, guarded: GuardedMessage): unknown {
  const ws: Bridged = internalOf(peer).ws;
  if (guarded.authenticated) {
    ws.emit('authenticated', guarded.connection);
    return undefined;
  }
  const data = frameData(ws, message);
  const isBinary = typeof message.rawData !== 'string';
  // The socket holds the app's listeners only (the guard's were taken off it).
  const listeners = ws.rawListeners('message');
  let pending: unknown[] | undefined;
  for (let i = 0; i < listeners.length; i++) {
    const result: unknown = listeners[i]!.call(ws, data, isBinary, guarded);
    if (typeof (result as { then?: unknown } | undefined)?.then !== 'function') continue;
    if (pending) pending.push(result);
    else pending = [result];
  }
  // An async listener's rejection closes with 1011, as a throw does (the guard's `message` hook
  // contract); the frames after it are not held back meanwhile.
  return pending ? Promise.all(pending) : undefined;
}

/** The guard's app hooks that drive a `ws` app's `connection` and `message` handlers. */
export function bridgeHooks(
  wss: WebSocketServer,
  upgrade: GuardedHooks['upgrade'] | undefined,
): GuardedHooks {
  return {
    ...(upgrade ? { upgrade } : {}),
    open: (peer, connection) => handOver(wss, peer, connection),
    message: deliver,
  };
}
