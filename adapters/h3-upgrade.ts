/**
 * The h3 app decides which handshakes are the guard's: Node hands every upgrade request to the
 * server's `upgrade` event, never to h3, so this listener first runs the request through the
 * app's `fetch` (its middleware and router, as crossws's own server plugin does), and hands the
 * socket to wsguard's Node upgrade handler only when the route the app chose is the guard's
 * (`defineWebSocketHandler(marker)` put `marker` on the request). Any other answer (a 404, a
 * middleware's 401, another WebSocket route) is written back and the socket closed: nothing but the
 * guard upgrades a connection on this server.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { getWebSocketHooks } from 'crossws';
import { NodeRequest } from 'srvx/node';
import type { ErrorStage } from '../src/observability/report.ts';
import type { NodeUpgradeHandler } from './node.ts';

/** `server.fetch` of srvx: the app with srvx's middleware. */
export type AppFetch = (request: Request) => unknown;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

/** Write `response` as a whole HTTP/1.1 answer on a socket that will not be upgraded, then end it. */
async function answer(socket: Duplex, response: Response): Promise<void> {
  // A 1xx–2xx means the app routed the handshake to something that is not the guard: not found.
  const refusal = response.status >= 300 ? response : new Response(null, { status: 404 });
  const body = Buffer.from(await refusal.arrayBuffer().catch(() => new ArrayBuffer(0)));
  const reason = STATUS_TEXT[refusal.status] ?? refusal.statusText;
  const head = [`HTTP/1.1 ${refusal.status} ${reason}`.trimEnd()];
  refusal.headers.forEach((value, name) => {
    if (!/^(content-length|transfer-encoding|connection)$/i.test(name))
      head.push(`${name}: ${value}`);
  });
  head.push(`content-length: ${body.length}`, 'connection: close', '', '');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(Buffer.concat([Buffer.from(head.join('\r\n'), 'latin1'), body]));
}

/**
 * The `upgrade` listener: route through `fetch`, upgrade with `guarded` only what the app routed
 * to the guard's handler (`marker`), answer the rest.
 */
export function routedUpgrade(
  fetch: () => AppFetch | undefined,
  marker: object,
  guarded: NodeUpgradeHandler,
  onError?: (error: unknown, context: { stage: ErrorStage }) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const onSocketError = function (this: Duplex): void {
    this.destroy();
  };
  const route = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const app = fetch();
    if (!app) throw new TypeError('wsguard/h3: the server has no fetch handler');
    const request = new NodeRequest({ req });
    const response = await app(request);
    if (
      getWebSocketHooks(request) === marker ||
      (response as { crossws?: unknown })?.crossws === marker
    ) {
      (response as Response | undefined)?.body?.cancel().catch(() => {});
      if (socket.destroyed) return;
      socket.off('error', onSocketError); // the guarded handler puts its own
      guarded(req, socket, head);
      return;
    }
    await answer(
      socket,
      response instanceof Response ? response : new Response(null, { status: 404 }),
    );
  };
  return (req, socket, head) => {
    // Node drops its own error handling once it emits 'upgrade': a reset while the app runs must
    // not crash the process.
    socket.on('error', onSocketError);
    route(req, socket, head).catch((error: unknown) => {
      socket.destroy();
      onError?.(error, { stage: 'upgrade' });
    });
  };
}
