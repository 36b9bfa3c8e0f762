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
 * - **Frames.** After a `101`, every client frame header is read ({@link FrameScanner}): a message
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
import { closeFrame, type FrameRefusal, FrameScanner } from './deno-frames.ts';

/** A socket address. */
export interface NetAddr {
  /** IP address. */
  readonly hostname: string;
  /** Port. */
  readonly port: number;
}

/** The parts of `Deno.Conn` the front uses. */
interface Conn {
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

interface Listener {
  readonly addr: NetAddr;
  accept(): Promise<Conn>;
  close(): void;
}

/** The parts of the `Deno` namespace the front uses. */
export interface DenoNet {
  /** `Deno.listen`. */
  listen(options: { hostname: string; port: number }): unknown;
  /** `Deno.listenTls`. */
  listenTls(options: {
    hostname: string;
    port: number;
    cert: string;
    key: string;
    alpnProtocols?: string[];
  }): unknown;
  /** `Deno.connect`. */
  connect(options: { hostname: string; port: number }): Promise<unknown>;
}

/** What the adapter learns about a connection that came through the front. */
export interface FrontLink {
  /** The client's own address (the private server sees the front's). */
  readonly client: NetAddr;
  /** The request line's HTTP version (`1.1`, `1.0`), or `undefined` when it did not parse. */
  readonly httpVersion: string | undefined;
  /**
   * The server is closing the WebSocket with this code: client bytes are dropped from now on, and
   * the front sends this close frame if Deno's own does not reach the client.
   */
  closing(code: number, reason: string): void;
  /** Called with the frame the front refused (at once if it was refused before the call). */
  onRefusal(listener: (refusal: FrameRefusal) => void): void;
  /**
   * Cut the connection at once (Deno's WebSocket has no `terminate`: without this, the hooks'
   * close timeout and a shutdown's final cut could not end a socket whose client does not answer).
   */
  terminate(): void;
}

/** Options of {@link startFront}. */
export interface FrontOptions {
  /** Public interface. */
  readonly hostname: string;
  /** Public port (0: any). */
  readonly port: number;
  /** Terminate TLS here (PEM); the private server is plain. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** From accept to a complete request head. */
  readonly headersTimeoutMs: number;
  /** Largest client message passed on (the guard's `maxBytes`). */
  readonly maxMessageBytes: number;
  /** The private `Deno.serve` port on 127.0.0.1. */
  readonly upstreamPort: number;
}

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

/** Request heads larger than this are refused (Node and Bun: 16 KiB). */
const MAX_HEAD = 32 * 1024;
/** Reads start small (an idle socket holds its read buffer) and grow while data keeps coming. */
const SMALL_READ = 1024;
const LARGE_READ = 64 * 1024;
/** How long a closed connection is drained so the client reads the close frame before the FIN. */
const LINGER_MS = 2000;
const UPSTREAM = '127.0.0.1';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const refusal = (status: string): Uint8Array =>
  ascii(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
const TIMEOUT = refusal('408 Request Timeout');
const TOO_LARGE = refusal('431 Request Header Fields Too Large');
const VERSION = refusal('505 HTTP Version Not Supported');
const CLOSE_HEADER = ascii('\r\nconnection: close\r\n\r\n');

/** Index of the `\r\n\r\n` ending a head in `buffer[from, to)`, or -1. */
function headEnd(buffer: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(0, from); i + 3 < to; i++)
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10)
      return i;
  return -1;
}

async function writeAll(conn: Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) off += await conn.write(bytes.subarray(off));
}

const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/(\d+(?:\.\d+)?)$/;
const UPGRADE_LINE = /^upgrade[ \t]*:(.*)$/gim;

/** The version in the request line and whether any `Upgrade` header names `websocket`. */
function parseHead(head: string): { version: string | undefined; websocket: boolean } {
  const first = head.slice(0, head.indexOf('\r\n') >>> 0);
  const version = REQUEST_LINE.exec(first)?.[1];
  let websocket = false;
  for (const m of head.matchAll(UPGRADE_LINE))
    if (m[1]!.split(',').some((t) => t.trim().toLowerCase() === 'websocket')) websocket = true;
  return { version, websocket };
}

/** Reads with a buffer that stays small while the peer is quiet. */
class Reader {
  #size = SMALL_READ;
  constructor(private readonly conn: Conn) {}
  async read(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(this.#size);
    const n = await this.conn.read(buffer);
    if (n === null) return null;
    this.#size = n === buffer.length ? LARGE_READ : SMALL_READ;
    return buffer.subarray(0, n);
  }
}

class FrontConnection implements FrontLink {
  readonly client: NetAddr;
  httpVersion: string | undefined;
  #up: Conn | undefined;
  #forwardUp = true;
  /** The upstream's write side was closed (Deno was sent its EOF). */
  #upEnded = false;
  #intended: { code: number; reason: string } | undefined;
  #refused: FrameRefusal | undefined;
  #onRefusal: ((refusal: FrameRefusal) => void) | undefined;
  #ended = false;
  /** The client-to-upstream loop; it ends with the client's side. */
  #fromClient: Promise<void> = Promise.resolve();

  constructor(
    readonly conn: Conn,
    private readonly options: FrontOptions,
    private readonly net: DenoNet,
    private readonly links: Map<string, FrontConnection>,
  ) {
    this.client = conn.remoteAddr;
  }

  closing(code: number, reason: string): void {
    this.#intended ??= { code, reason };
    // Deno fails the socket at the next client frame it reads while closing, before its close
    // frame is out: none reaches it from now on. Its EOF follows its close frame.
    this.#forwardUp = false;
  }

  onRefusal(listener: (refusal: FrameRefusal) => void): void {
    this.#onRefusal = listener;
    if (this.#refused) listener(this.#refused);
  }

  /** Serve the connection to its end; never rejects. */
  async run(): Promise<void> {
    let key: string | undefined;
    try {
      const head = await this.#readHead();
      if (!head) return;
      const { bytes, end } = head;
      const text = new TextDecoder('latin1').decode(bytes.subarray(0, end));
      const { version, websocket } = parseHead(text);
      this.httpVersion = version;
      if (version !== undefined && Number.parseFloat(version) >= 2) {
        await this.#refuse(VERSION);
        return;
      }
      const up = (await this.net.connect({
        hostname: UPSTREAM,
        port: this.options.upstreamPort,
      })) as Conn;
      this.#up = up;
      up.setNoDelay?.(true);
      // Registered before the first byte goes up: the private server cannot see the request
      // before it can find its link.
      key = `${up.localAddr.hostname}:${up.localAddr.port}`;
      this.links.set(key, this);
      const rest = bytes.subarray(end + 4);
      const scanner = websocket
        ? new FrameScanner({ requireMask: true, maxMessageBytes: this.options.maxMessageBytes })
        : undefined;
      if (websocket) {
        await writeAll(up, bytes.subarray(0, end + 4));
        await this.#forward(rest, scanner);
      } else {
        // Appended last: hyper reads `Connection` headers in order, and a later `keep-alive`
        // would undo an earlier `close`. The body (if any) follows unchanged.
        await writeAll(up, bytes.subarray(0, end));
        await writeAll(up, CLOSE_HEADER);
        await writeAll(up, rest);
      }
      this.#fromClient = this.#clientToUpstream(scanner);
      await Promise.all([this.#fromClient, this.#upstreamToClient(websocket)]);
    } catch {
      // A socket failed (reset, refused, shut down): both are closed below.
    } finally {
      if (key !== undefined) this.links.delete(key);
      this.close();
    }
  }

  terminate(): void {
    this.close();
  }

  /** Cut both sockets (idempotent). */
  close(): void {
    this.#ended = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    try {
      this.#up?.close();
    } catch {
      // Already closed.
    }
  }

  async #readHead(): Promise<{ bytes: Uint8Array; end: number } | undefined> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#refuse(TIMEOUT);
    }, this.options.headersTimeoutMs);
    try {
      let buffer = new Uint8Array(4096);
      let length = 0;
      for (;;) {
        if (length === buffer.length) {
          if (length >= MAX_HEAD) {
            await this.#refuse(TOO_LARGE);
            return undefined;
          }
          const grown = new Uint8Array(Math.min(MAX_HEAD, length * 2));
          grown.set(buffer);
          buffer = grown;
        }
        const n = await this.conn.read(buffer.subarray(length));
        if (n === null || timedOut) return undefined;
        const from = length - 3;
        length += n;
        const end = headEnd(buffer, from, length);
        if (end >= 0) return { bytes: buffer.subarray(0, length), end };
      }
    } catch {
      return undefined; // reset, or closed by the deadline
    } finally {
      clearTimeout(timer);
    }
  }

  /** Answer with a fixed response and close (bounded: a client that does not read is cut). */
  async #refuse(response: Uint8Array): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      writeAll(this.conn, response).catch(() => {}),
      new Promise((r) => (timer = setTimeout(r, 1000))),
    ]);
    clearTimeout(timer);
    this.close();
  }

  /** No more client bytes go up, and Deno is sent its EOF (after its close frame: a clean end). */
  #stopForwarding(): void {
    this.#forwardUp = false;
    if (this.#upEnded || !this.#up) return;
    this.#upEnded = true;
    this.#up.closeWrite().catch(() => {});
  }

  /** Pass client bytes up, through the frame check once a handshake was asked for. */
  async #forward(chunk: Uint8Array, scanner: FrameScanner | undefined): Promise<void> {
    if (!this.#forwardUp || chunk.length === 0) return;
    const at = scanner ? scanner.scan(chunk) : -1;
    const up = this.#up!;
    if (at < 0) {
      await writeAll(up, chunk);
      return;
    }
    // The frames before the refused one are the client's and go on; nothing after it does.
    if (at > 0) await writeAll(up, chunk.subarray(0, at));
    this.#forwardUp = false;
    this.#refused = scanner!.refusal;
    this.#intended ??= { code: this.#refused!.closeCode, reason: this.#refused!.message };
    this.#onRefusal?.(this.#refused!);
    // No closeWrite yet: the socket may not have opened; the adapter closes it with the code,
    // and Deno's close frame (or the front's, if it is lost) ends the connection.
  }

  async #clientToUpstream(scanner: FrameScanner | undefined): Promise<void> {
    const reader = new Reader(this.conn);
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk === null) break;
        // After the server's close (or a refusal) the client's bytes are read and dropped, so
        // its connection is never reset with data unread and the close frame stays readable.
        if (this.#forwardUp)
          await this.#forward(chunk, scanner).catch(() => {
            this.#forwardUp = false; // Deno's side is gone; keep draining the client
          });
      }
    } catch {
      // Client reset, or closed after the linger.
      if (!this.#ended) this.#up?.close();
      return;
    }
    this.#stopForwarding();
  }

  async #upstreamToClient(websocket: boolean): Promise<void> {
    const up = this.#up!;
    const reader = new Reader(up);
    // The response head first: a 101 turns the rest into frames, anything else ends the
    // connection after the response (a refused handshake must not leave a keep-alive socket
    // outside the deadline).
    let head: Uint8Array | undefined = websocket ? new Uint8Array(0) : undefined;
    let frames: FrameScanner | undefined;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await reader.read();
      } catch {
        chunk = null; // Deno reset its side; what arrived before is written
      }
      if (chunk === null) break;
      if (head) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        const end = headEnd(joined, head.length - 3, joined.length);
        if (end < 0) {
          head = joined.length > MAX_HEAD ? undefined : joined;
        } else {
          head = undefined;
          if (
            /^HTTP\/1\.[01] 101 /.test(new TextDecoder('latin1').decode(joined.subarray(0, 16)))
          ) {
            frames = new FrameScanner({ requireMask: false });
            frames.scan(joined.subarray(end + 4));
          } else this.#stopForwarding();
        }
      } else frames?.scan(chunk);
      try {
        await writeAll(this.conn, chunk);
      } catch {
        up.close(); // the client is gone
        return;
      }
      if (frames?.closeSeen) this.#stopForwarding();
    }
    // Deno ended its side. If it was closing with a code and its close frame did not come through
    // (dropped when a client frame arrived meanwhile), send the code it meant.
    const intended = this.#intended;
    if (frames && intended && !frames.closeSeen && frames.atBoundary)
      await writeAll(this.conn, closeFrame(intended.code, intended.reason)).catch(() => {});
    await this.#linger();
  }

  /**
   * Half-close towards the client and wait (bounded) until it ends too: the client-to-upstream
   * loop keeps reading and dropping its bytes meanwhile, so the close frame and the FIN are read
   * before the socket is closed.
   */
  async #linger(): Promise<void> {
    this.#forwardUp = false;
    await this.conn.closeWrite().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#fromClient, new Promise((r) => (timer = setTimeout(r, LINGER_MS)))]);
    clearTimeout(timer);
  }
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
