/**
 * A TCP proxy in front of Redis that a test can cut (every socket destroyed, port closed),
 * restore (listening again on the same port), or stall (requests held back, connection open: a
 * Redis that accepts but does not answer). Stalled bytes are held, never dropped, so the RESP
 * stream stays in step when it resumes. `replyDelayMs` holds every reply back that long (order
 * kept: equal timers fire in turn), so a caller's latency counts its round trips in turn.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** A controllable proxy to `host:port`. */
export interface TcpProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Destroy every connection and stop listening. */
  cut(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
  /** Hold client-to-server bytes (connections stay open). */
  stall(): void;
  /** Send held bytes and pass traffic again. */
  resume(): void;
  /** Stop for good. */
  close(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly held: Buffer[];
}

/** Start a proxy on a free loopback port. */
export async function startTcpProxy(
  host: string,
  port: number,
  replyDelayMs = 0,
): Promise<TcpProxy> {
  const links = new Set<Link>();
  let stalled = false;

  const onConnection = (client: Socket): void => {
    const upstream = tcpConnect(port, host);
    const link: Link = { client, upstream, held: [] };
    links.add(link);
    const end = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (stalled) link.held.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (replyDelayMs > 0) setTimeout(() => client.write(chunk), replyDelayMs);
      else client.write(chunk);
    });
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  };

  const listen = (server: Server, p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : p);
      });
    });

  let server = createServer(onConnection);
  const proxyPort = await listen(server, 0);

  const stop = async (): Promise<void> => {
    for (const link of [...links]) {
      link.client.destroy();
      link.upstream.destroy();
    }
    links.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    port: proxyPort,
    cut: stop,
    async restore(): Promise<void> {
      server = createServer(onConnection);
      await listen(server, proxyPort);
    },
    stall(): void {
      stalled = true;
    },
    resume(): void {
      stalled = false;
      for (const link of links) {
        for (const chunk of link.held.splice(0)) link.upstream.write(chunk);
      }
    },
    close: async (): Promise<void> => {
      if (server.listening) await stop();
    },
  };
}
