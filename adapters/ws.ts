/**
 * wsguard for an app written on `ws`: keep your `WebSocketServer` and its `connection` and
 * `message` handlers, and let the guard take the handshake and the frames.
 *
 * `guardWebSocketServer(wss, { guard })` returns the `upgrade` listener to put on your
 * `http.Server` in place of your `wss.handleUpgrade(...)` call. The guard decides each handshake
 * (origin, credential, rate limits, caps, bans: refused ones never reach `wss`), bounds each frame
 * from its header (`maxPayload` = the guard's `maxBytes`), and decides each frame (message rate,
 * schema, permissions); your `message` listeners receive only the frames it let through, with a
 * third argument, the guard's verdict (`value`: the parsed JSON). Refusals close with the
 * guard's codes (4001, 4029, 1009, …). See `docs/migrating-from-ws.md`.
 *
 * The socket is `ws`'s WebSocket as bundled by crossws (same `ws` 8 API; `instanceof` your own
 * copy's class is false). Your server's own options that decide handshakes or frames are the
 * guard's here: a server that takes upgrades itself (`port`, `server`) or that has `verifyClient`
 * is refused, since the guard would be bypassed or the check silently skipped.
 *
 * @example
 * ```ts
 * const wss = new WebSocketServer({ noServer: true });
 * wss.on('connection', (ws, req) => { ws.on('message', (data) => ws.send(data)); });
 * server.on('upgrade', guardWebSocketServer(wss, { guard }));
 * ```
 *
 * @module
 */
import type { WebSocketServer } from 'ws';
import { GuardConfigError } from '../src/core/errors.ts';
import type { GuardedHooks } from '../src/guard/types.ts';
import type { GuardedSocketOptions } from '../src/transport/serve.ts';
import { type NodeUpgradeHandler, upgradeHandler } from './node.ts';
import { bridgeHooks } from './ws-bridge.ts';

export type { NodeUpgradeHandler } from './node.ts';
export { type FetchHandler, nodeFetchHandler, nodeServerOptions } from './node-http.ts';
export { connectionOf } from './ws-bridge.ts';

/** Options of {@link guardWebSocketServer}: the socket side's, with the app's hooks replaced. */
export interface GuardWebSocketServerOptions extends Omit<GuardedSocketOptions, 'hooks'> {
  /** After the guard accepted a handshake: add headers, or refuse with a `Response`. */
  readonly upgrade?: GuardedHooks['upgrade'];
}

/** Refuse a server whose own options would bypass the guard or be silently ignored. */
function checkServer(wss: WebSocketServer): void {
  const options: { noServer?: boolean; verifyClient?: unknown } = wss.options ?? {};
  const problems: string[] = [];
  if (options.noServer !== true)
    problems.push(
      'guardWebSocketServer: create the WebSocketServer with `{ noServer: true }`: with `port` or `server` it answers handshakes itself, unguarded',
    );
  if (options.verifyClient !== undefined && options.verifyClient !== null)
    problems.push(
      'guardWebSocketServer: `verifyClient` would never run; the guard decides handshakes (put an extra check in the `upgrade` option)',
    );
  if (problems.length > 0) throw new GuardConfigError(problems);
}

/**
 * The guarded `upgrade` listener for an existing `ws` server: accepted sockets are emitted as
 * `wss`'s `connection` events. `close()` refuses new handshakes and closes every socket with 1001.
 */
export function guardWebSocketServer(
  wss: WebSocketServer,
  options: GuardWebSocketServerOptions,
): NodeUpgradeHandler {
  checkServer(wss);
  const { upgrade, ...socketOptions } = options;
  return upgradeHandler({ ...socketOptions, hooks: bridgeHooks(wss, upgrade) });
}
