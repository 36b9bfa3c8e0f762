/**
 * The Deno adapter's TCP front. `Deno.serve` has no header deadline (a connection that never
 * completes its request head is held for ever), no inbound frame limit (it buffers a message up to
 * 64 MiB) and accepts unmasked client frames; and when a client keeps sending after the server
 * closed, Deno drops its own close frame (its event loop closes the socket at the next frame while
 * the close frame's write is still queued). None of that can be changed through `Deno.serve`, so
 * `serve()` listens itself and hands each connection to a `Deno.serve` on a private loopback port:
 *
 * - **Header deadline.** From accept (and the TLS handshake) to a complete request head:
 *   `headersTimeoutMs`, then `408` and close. Heads over 32 KiB get `431`. Every request that is
 *   not a WebSocket handshake gets `Connection: close` appended, so the next request on the
 *   connection cannot escape the deadline; a refused handshake ends the connection after its
 *   response. HTTP/2 (prior knowledge) is refused: the front speaks HTTP/1.1.
 * - **Frames.** After a `101`, every client frame header is read (`FrameScanner`, `deno-frames.ts`): a message
 *   over `maxMessageBytes` (1009) or an unmasked frame (1002) is refused from its header, never
 *   passed on, and reported to the adapter.
 * - **Close codes.** The adapter tells the front the close it asked Deno for ({@link
 *   FrontLink.closing}); from then on client bytes are read and dropped, and if Deno's connection
 *   ends without its close frame having gone out, the front writes that close frame itself (at a
 *   frame boundary). The client connection is half-closed and drained, never reset with data
 *   unread, so the client reads the code.
 * - **Addresses.** The private server sees the front's loopback address; {@link DenoFront.linkOf}
 *   maps it back to the client's. A connection to the private port that did not come through the
 *   front has no link and is refused by the adapter.
 *
 * Cost: three sockets per client, every byte copied once more through JS (measured in
 * docs/adapters.md), no HTTP/2, no keep-alive for plain HTTP.
 *
 * @module
 */
import { FrontConnection, type FrontLink, type FrontOptions } from './deno-front-connection.ts';
import type { Conn, DenoNet, Listener, NetAddr } from './deno-net.ts';

export type { FrontLink, FrontOptions } from './deno-front-connection.ts';
export type { DenoNet, NetAddr } from './deno-net.ts';

/** A running front. */
export interface DenoFront {
  /** The public port. */
  readonly port: number;
  /** The link of a private-server connection, by the remote address the private server saw. */
  linkOf(remote: NetAddr | undefined): FrontLink | undefined;
  /** Stop accepting (connections in progress go on). */
  stop(): void;
  /** Cut every connection still open. */
  closeAll(): void;
}

/**
 * Listen on the public address and pass each connection, once its head is complete, to the
 * private server on `127.0.0.1:upstreamPort`.
 */
export function startFront(net: DenoNet, options: FrontOptions): DenoFront {
  const listener = (
    options.tls
      ? net.listenTls({
          hostname: options.hostname,
          port: options.port,
          cert: options.tls.cert,
          key: options.tls.key,
          alpnProtocols: ['http/1.1'],
        })
      : net.listen({ hostname: options.hostname, port: options.port })
  ) as Listener;
  const links = new Map<string, FrontConnection>();
  const open = new Set<FrontConnection>();
  let stopped = false;
  const accept = async (): Promise<void> => {
    while (!stopped) {
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch {
        if (stopped) return;
        // Out of descriptors or a transient failure: do not spin.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      conn.setNoDelay?.(true);
      const c = new FrontConnection(conn, options, net, links);
      open.add(c);
      c.run().finally(() => open.delete(c));
    }
  };
  accept();
  return {
    port: listener.addr.port,
    linkOf: (remote) => (remote ? links.get(`${remote.hostname}:${remote.port}`) : undefined),
    stop(): void {
      if (stopped) return;
      stopped = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
    closeAll(): void {
      for (const c of open) c.close();
    },
  };
}
