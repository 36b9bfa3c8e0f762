/**
 * The bridge from the guard's hooks to a `ws` app's own handlers: a socket the guard accepted is
 * handed to the app's `WebSocketServer` as its `connection` event, `(ws, req)`, and from then on
 * the app's `message` listeners receive only the frames the guard let through.
 *
 * How: frames reach a `ws` socket as `ws.emit('message', data, isBinary)` from its receiver. The
 * socket's `emit` is replaced so that a raw `message` reaches only the listeners that were on the
 * socket before the app saw it (crossws's, which feed the guard); the guard's `message` hook then
 * calls the app's own listeners with the frame it let through. Every other event (`close` with
 * the guard's codes, `error`, `ping`, `pong`) reaches the app as `ws` emits it.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Message, Peer } from 'crossws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { GuardedHooks, GuardedMessage } from '../src/guard/types.ts';
import type { GuardConnection } from '../src/state/connection.ts';

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
/** Per socket: the listeners that feed the guard (never the app's). */
const guardSides = new WeakMap<WebSocket, ReadonlySet<Listener>>();

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
function routeFramesToGuard(ws: WebSocket, guardSide: ReadonlySet<Listener>): void {
  const emit = ws.emit;
  ws.emit = function (this: WebSocket, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'message') return emit.call(this, event, ...args);
    for (const listener of guardSide) Reflect.apply(listener, this, args);
    return guardSide.size > 0;
  } as WebSocket['emit'];
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
  const guardSide = new Set(ws.rawListeners('message'));
  guardSides.set(ws, guardSide);
  routeFramesToGuard(ws, guardSide);
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

/**
 * Call the app's `message` listeners with a frame the guard let through: `(data, isBinary,
 * guarded)` (text as a `Buffer`, as `ws` gives it; `guarded.value` is the parsed JSON). The
 * first-message credential is not a message of the app's: it is the `authenticated` event.
 */
function deliver(peer: Peer, message: Message, guarded: GuardedMessage): unknown {
  const { ws } = internalOf(peer);
  if (guarded.authenticated) {
    ws.emit('authenticated', guarded.connection);
    return undefined;
  }
  const guardSide = guardSides.get(ws);
  const raw = message.rawData as string | Buffer | ArrayBuffer;
  const isBinary = typeof raw !== 'string';
  const args = [isBinary ? raw : Buffer.from(raw), isBinary, guarded];
  const pending: unknown[] = [];
  for (const listener of ws.rawListeners('message')) {
    if (guardSide?.has(listener)) continue;
    const result: unknown = Reflect.apply(listener, ws, args);
    if (typeof (result as { then?: unknown } | undefined)?.then === 'function')
      pending.push(result);
  }
  // An async listener's rejection closes with 1011, as a throw does; the next frame waits for it.
  return pending.length > 0 ? Promise.all(pending) : undefined;
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
