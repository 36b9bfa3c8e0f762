/**
 * The parts of Deno's network API the TCP front uses (`deno-front.ts`). Typed here so the adapter
 * compiles without Deno's types; with the two ways the front moves bytes: a write that finishes,
 * and reads whose buffer stays small while the peer is quiet.
 *
 * @module
 */

/** A socket address. */
export interface NetAddr {
  /** IP address. */
  readonly hostname: string;
  /** Port. */
  readonly port: number;
}

/** The parts of `Deno.Conn` the front uses. */
export interface Conn {
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /** This end's address. */
  readonly localAddr: NetAddr;
  /** Read into `buffer`; the byte count, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Write some of `bytes`; how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Half-close: send the FIN, keep reading. */
  closeWrite(): Promise<void>;
  /** Close both directions. */
  close(): void;
  /** Turn Nagle's algorithm off. */
  setNoDelay?(noDelay?: boolean): void;
}

/** The parts of `Deno.Listener` the front uses. */
export interface Listener {
  /** The address it listens on. */
  readonly addr: NetAddr;
  /** The next connection. */
  accept(): Promise<Conn>;
  /** Stop listening. */
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

/** Reads start small (an idle socket holds its read buffer) and grow while data keeps coming. */
const SMALL_READ = 1024;
const LARGE_READ = 64 * 1024;

/** Write all of `bytes` (a `Deno.Conn` write may take only part). */
export async function writeAll(conn: Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) off += await conn.write(bytes.subarray(off));
}

/** Reads with a buffer that stays small while the peer is quiet. */
export class Reader {
  #size = SMALL_READ;
  /** Read from `conn`. */
  constructor(private readonly conn: Conn) {}
  /** The next chunk, or `null` at the end. */
  async read(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(this.#size);
    const n = await this.conn.read(buffer);
    if (n === null) return null;
    this.#size = n === buffer.length ? LARGE_READ : SMALL_READ;
    return buffer.subarray(0, n);
  }
}
