/**
 * One client connection through the Deno adapter's TCP front (`deno-front.ts` says why there is
 * one). The request head read against its deadline, then a connection to the private
 * `Deno.serve` and the bytes copied both ways. Client frames are checked on the way up
 * ({@link FrameScanner}); Deno's frames are followed on the way down, so that the close the server
 * meant reaches the client even when Deno drops its own close frame.
 *
 * @module
 */
import { closeFrame, type FrameRefusal, FrameScanner } from './deno-frames.ts';
import {
  CLOSE_HEADER,
  headEnd,
  isSwitching,
  MAX_HEAD,
  parseHead,
  TIMEOUT,
  TOO_LARGE,
  VERSION,
} from './deno-http-head.ts';
import { type Conn, type DenoNet, type NetAddr, Reader, writeAll } from './deno-net.ts';

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

/** Options of `startFront`. */
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

/** How long a closed connection is drained so the client reads the close frame before the FIN. */
const LINGER_MS = 2000;
const UPSTREAM = '127.0.0.1';

/**
 * One client connection through the front: its head read against the deadline, then a private
 * connection to `Deno.serve` and the bytes copied both ways, client frames checked on the way up.
 */
export class FrontConnection implements FrontLink {
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

  /** `links`: where the front finds a connection by its private-side address. */
  constructor(
    readonly conn: Conn,
    private readonly options: FrontOptions,
    private readonly net: DenoNet,
    private readonly links: Map<string, FrontConnection>,
  ) {
    this.client = conn.remoteAddr;
  }

  /** See {@link FrontLink.closing}. */
  closing(code: number, reason: string): void {
    this.#intended ??= { code, reason };
    // Deno fails the socket at the next client frame it reads while closing, before its close
    // frame is out: none reaches it from now on. Its EOF follows its close frame.
    this.#forwardUp = false;
  }

  /** See {@link FrontLink.onRefusal}. */
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

  /** See {@link FrontLink.terminate}. */
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
          if (isSwitching(joined)) {
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
