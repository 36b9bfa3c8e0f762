/**
 * A streaming reader of WebSocket frame headers (RFC 6455 §5.2) for the Deno adapter's front
 * (`deno-front.ts`). The front sees every byte between a client and Deno, so it can refuse from a
 * frame's header what Deno would otherwise buffer whole (a frame or fragmented message over the
 * guard's `maxBytes`, up to Deno's 64 MiB) or accept (an unmasked client frame), and answer
 * with a close frame what Deno would fail without one (RSV bits, unknown opcodes, broken control
 * frames), before any of the payload arrives. On the server's side it tells where frames end and whether Deno's close
 * frame went out. It never copies a payload: it only counts its bytes.
 *
 * @module
 */
import type { RuntimeViolation } from '../src/core/runtime-violation.ts';

/** A client frame the front refused, with the close frame the client is sent. */
export interface FrameRefusal extends RuntimeViolation {
  /** The close reason sent with {@link RuntimeViolation.closeCode}. */
  readonly message: string;
}

/** What a {@link FrameScanner} checks. */
export interface FrameScannerOptions {
  /** Client frames must be masked (§5.1); server frames must not be checked for it. */
  readonly requireMask: boolean;
  /** Bytes of one message (a frame, or the fragments of one message together). @default Infinity */
  readonly maxMessageBytes?: number;
}

const TOO_BIG: FrameRefusal = { reason: 'too_big', closeCode: 1009, message: 'message too big' };
const UNMASKED: FrameRefusal = { reason: 'protocol', closeCode: 1002, message: 'unmasked frame' };
const RESERVED: FrameRefusal = {
  reason: 'protocol',
  closeCode: 1002,
  message: 'reserved bits or opcode',
};
const BAD_CONTROL: FrameRefusal = {
  reason: 'protocol',
  closeCode: 1002,
  message: 'invalid control frame',
};
/** Opcodes RFC 6455 defines: continuation, text, binary, close, ping, pong. */
const KNOWN_OPCODES = new Set([0, 1, 2, 8, 9, 10]);

/** Follows frame boundaries across chunks; one instance per direction of one connection. */
export class FrameScanner {
  readonly #requireMask: boolean;
  readonly #max: number;
  /** The header being read (at most 14 bytes). */
  readonly #head = new Uint8Array(14);
  #have = 0;
  /** Payload bytes of the current frame not seen yet. */
  #left = 0;
  /** Bytes of the data message in progress (its fragments so far). */
  #message = 0;
  #fin = false;
  #opcode = 0;
  #closeSeen = false;
  #refusal: FrameRefusal | undefined;

  /** A scanner for one direction. */
  constructor(options: FrameScannerOptions) {
    this.#requireMask = options.requireMask;
    this.#max = options.maxMessageBytes ?? Number.POSITIVE_INFINITY;
  }

  /** A whole close frame has gone by. */
  get closeSeen(): boolean {
    return this.#closeSeen;
  }

  /** Between two frames: nothing of a frame is pending, so a frame may be written here. */
  get atBoundary(): boolean {
    return this.#have === 0 && this.#left === 0;
  }

  /** The refusal, once a frame was refused (the scanner reads nothing after it). */
  get refusal(): FrameRefusal | undefined {
    return this.#refusal;
  }

  /**
   * Read `chunk`. Returns -1 when every frame in it is allowed; otherwise the offset in `chunk`
   * where the refused frame starts (0 when its header began in an earlier chunk): the bytes before
   * it are whole frames (or the rest of one) and may be passed on.
   */
  scan(chunk: Uint8Array): number {
    if (this.#refusal) return 0;
    let i = 0;
    let start = 0;
    while (i < chunk.length) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, chunk.length - i);
        this.#left -= n;
        i += n;
        if (this.#left === 0) this.#frameEnd();
        continue;
      }
      if (this.#have === 0) start = i;
      this.#head[this.#have++] = chunk[i++]!;
      if (this.#have < this.#headerSize()) continue;
      const refusal = this.#frameStart();
      if (refusal) {
        this.#refusal = refusal;
        return start;
      }
    }
    return -1;
  }

  /** The header's full size, once its first two bytes are known (2 until then). */
  #headerSize(): number {
    if (this.#have < 2) return 2;
    const b1 = this.#head[1]!;
    const len7 = b1 & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  #frameStart(): FrameRefusal | undefined {
    const h = this.#head;
    this.#have = 0;
    this.#fin = (h[0]! & 0x80) !== 0;
    this.#opcode = h[0]! & 0x0f;
    const masked = (h[1]! & 0x80) !== 0;
    const len7 = h[1]! & 0x7f;
    const length =
      len7 < 126
        ? len7
        : len7 === 126
          ? (h[2]! << 8) | h[3]!
          : // The top 11 bits of a 64-bit length only make it larger than any limit.
            (((h[2]! << 24) | (h[3]! << 16) | (h[4]! << 8) | h[5]!) >>> 0) * 2 ** 32 +
            (((h[6]! << 24) | (h[7]! << 16) | (h[8]! << 8) | h[9]!) >>> 0);
    if (this.#requireMask) {
      // The client's side only: Deno fails these too, but without a close frame (the client
      // sees 1006); no extension is negotiated on Deno, so any RSV bit is an error.
      if (!masked) return UNMASKED;
      if (h[0]! & 0x70 || !KNOWN_OPCODES.has(this.#opcode)) return RESERVED;
      if (this.#opcode >= 8 && (!this.#fin || length > 125)) return BAD_CONTROL;
    }
    if (this.#opcode < 8) {
      // Data (text, binary) starts a message; a continuation adds to it. Control frames
      // (close, ping, pong: at most 125 bytes, checked by Deno) do not count.
      this.#message = (this.#opcode === 0 ? this.#message : 0) + length;
      if (this.#message > this.#max) return TOO_BIG;
    }
    this.#left = length;
    if (length === 0) this.#frameEnd();
    return undefined;
  }

  #frameEnd(): void {
    if (this.#opcode === 8) this.#closeSeen = true;
    if (this.#opcode < 8 && this.#fin) this.#message = 0;
  }
}

/** An unmasked (server) close frame: code and reason (at most 123 bytes, cut otherwise). */
export function closeFrame(code: number, reason: string): Uint8Array {
  if (code === 1005) return Uint8Array.of(0x88, 0);
  let text = new TextEncoder().encode(reason);
  // Cut on a character: a broken UTF-8 sequence would make the client fail the close with 1007.
  if (text.length > 123)
    text = new TextEncoder().encode(new TextDecoder().decode(text.slice(0, 120)));
  const frame = new Uint8Array(4 + text.length);
  frame.set([0x88, 2 + text.length, code >> 8, code & 0xff]);
  frame.set(text, 4);
  return frame;
}
