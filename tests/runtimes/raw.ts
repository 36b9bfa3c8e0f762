/**
 * Hand-written handshakes and frames over `net`, for what a real client library refuses to send:
 * malformed frames, header-only frames, floods in one write, frames in the same write as the
 * handshake. Every wait is bounded.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A handshake request's parts. */
export interface HandshakeOptions {
  /** ws:// or http:// URL (host, port, path and query are used). */
  readonly url: string;
  /** Extra headers (name → value), or raw header lines. */
  readonly headers?: Record<string, string> | readonly string[];
  /** Source address (distinct 127.x.y.z per case keeps penalties apart). */
  readonly localAddress?: string;
  /** Bytes sent in the same write as the request (early frames). */
  readonly trailing?: Buffer;
  /** Leave out the standard WebSocket headers. */
  readonly bare?: boolean;
  /** The request line's HTTP version. @default '1.1' */
  readonly version?: string;
}

/** What came back. */
export interface Handshake {
  readonly socket: Socket;
  /** HTTP status, or 0 when the server closed without answering. */
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Record<string, string>;
  /** Bytes after the response head (frames or body). */
  readonly rest: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');

function requestBytes(options: HandshakeOptions, url: URL): Buffer {
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/${options.version ?? '1.1'}`,
    `Host: ${url.host}`,
    ...(options.bare
      ? []
      : [
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
        ]),
    ...(Array.isArray(options.headers)
      ? (options.headers as readonly string[])
      : Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`)),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

/** Write a handshake and resolve with the socket as soon as it is written (bounded: 5 s). */
export function sendHandshake(options: HandshakeOptions): Promise<Socket> {
  const url = new URL(options.url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, 5000);
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(requestBytes(options, url), () => {
        clearTimeout(timer);
        resolve(socket);
      });
    });
  });
}

/** Send a handshake and read the response head (bounded: 5 s). */
export function handshake(options: HandshakeOptions): Promise<Handshake> {
  const url = new URL(options.url);
  const request = requestBytes(options, url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('handshake timed out')), 5000);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
        return;
      }
      const end = buffer.indexOf(HEAD_END);
      if (end < 0) {
        resolve({ socket, status: 0, headers: {}, rest: Buffer.alloc(0) });
        return;
      }
      const [statusLine = '', ...headerLines] = buffer.subarray(0, end).toString().split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      socket.pause();
      resolve({
        socket,
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        rest: buffer.subarray(end + 4),
      });
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.indexOf(HEAD_END) >= 0) finish();
    };
    const onClose = () => finish();
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => {}); // a reset ends as 'close'
    socket.once('connect', () => {
      socket.write(options.trailing ? Buffer.concat([request, options.trailing]) : request);
    });
  });
}

/** One client frame. */
export interface FrameOptions {
  /** 1 text, 2 binary, 0 continuation, 8 close, 9 ping. @default 1 */
  readonly opcode?: number;
  /** @default true */
  readonly fin?: boolean;
  /** RSV bits (0–7). @default 0 */
  readonly rsv?: number;
  /** Mask the payload (clients must). @default true */
  readonly mask?: boolean;
  /** Declared length, when it should differ from the payload (header-only frames). */
  readonly length?: number;
}

/** Encode a client frame. */
export function frame(payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const length = options.length ?? data.length;
  const mask = options.mask ?? true;
  const head: number[] = [
    ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (options.opcode ?? 1),
  ];
  const m = mask ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 65536) head.push(m | 126, length >> 8, length & 0xff);
  else {
    head.push(m | 127);
    const big = BigInt(length);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i]! ^ key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** Server frames read until the socket ends. */
export interface Received {
  /** Text of every text frame. */
  readonly texts: string[];
  /** Close code of the server's close frame, when one came. */
  readonly closeCode: number | undefined;
  /** Whether the socket ended (bounded wait elapsed otherwise). */
  readonly ended: boolean;
}

/**
 * Read server frames until a close frame or the socket ends, or `timeoutMs` elapses. Writes are
 * allowed meanwhile (the socket is resumed).
 */
export function readFrames(
  socket: Socket,
  initial: Buffer = Buffer.alloc(0),
  timeoutMs = 8000,
  /** Stop once this many text frames arrived. */
  texts_?: number,
): Promise<Received> {
  return new Promise((resolve) => {
    let buffer = initial;
    const texts: string[] = [];
    let closeCode: number | undefined;
    let done = false;
    const finish = (ended: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ texts, closeCode, ended });
    };
    const parse = () => {
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0]! & 0x0f;
        let len = buffer[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buffer.length < 4) return;
          len = buffer.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buffer.length < 10) return;
          len = Number(buffer.readBigUInt64BE(2));
          off = 10;
        }
        if (buffer.length < off + len) return;
        const payload = buffer.subarray(off, off + len);
        buffer = buffer.subarray(off + len);
        if (opcode === 1) {
          texts.push(payload.toString());
          if (texts_ !== undefined && texts.length >= texts_) {
            finish(false);
            return;
          }
        }
        if (opcode === 8) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          socket.end();
          finish(true);
          return;
        }
      }
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      parse();
    };
    const onClose = () => finish(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
    parse();
  });
}

/** The body of an HTTP response (its `content-length` bytes; bounded: 5 s). */
export function readBody(h: Handshake): Promise<string> {
  const length = Number(h.headers['content-length'] ?? 0);
  return new Promise((resolve) => {
    let buffer = h.rest;
    const done = () => {
      clearTimeout(timer);
      h.socket.off('data', onData);
      resolve(buffer.subarray(0, length).toString());
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length >= length) done();
    };
    const timer = setTimeout(done, 5000);
    if (buffer.length >= length) {
      done();
      return;
    }
    h.socket.on('data', onData);
    h.socket.once('close', done);
    h.socket.resume();
  });
}

/** A connection that has sent part of a request head and is held open. */
export interface HeldSocket {
  readonly socket: Socket;
  /** When the server closed it (ms since `holdPartialHeads` started), or undefined while open. */
  closedAt(): number | undefined;
  /** The first line the server answered with, if any (`HTTP/1.1 408 Request Timeout`). */
  answer(): string;
}

/**
 * Open `count` connections to `url` that each send a partial request head and never finish it
 * (Slowloris). With `trickleMs`, each keeps sending one more header line at that interval, as a
 * client does that wants to stay under an idle timeout. Bounded: resolves once all are connected
 * (or failed), 10 s at most; the caller destroys them.
 */
export async function holdPartialHeads(
  url: string,
  count: number,
  options: { trickleMs?: number; localAddress?: string; prefix?: string } = {},
): Promise<HeldSocket[]> {
  const target = new URL(url);
  const started = Date.now();
  const held: HeldSocket[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let closedAt: number | undefined;
    let answer = '';
    let trickle: ReturnType<typeof setInterval> | undefined;
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      if (answer.length < 200) answer += d.toString('latin1');
    });
    socket.once('close', () => {
      closedAt = Date.now() - started;
      clearInterval(trickle);
    });
    connected.push(
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.write(
            options.prefix ??
              `GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\n`,
          );
          if (options.trickleMs !== undefined) {
            let n = 0;
            trickle = setInterval(() => {
              // Bounded: a trickle that outlives any deadline under test stops by itself.
              if (++n > 200 || !socket.writable) clearInterval(trickle);
              else socket.write(`X-Trickle-${n}: x\r\n`);
            }, options.trickleMs);
          }
          resolve();
        });
      }),
    );
    held.push({
      socket,
      closedAt: () => closedAt,
      answer: () => answer.split('\r\n')[0] ?? '',
    });
  }
  await Promise.all(connected);
  return held;
}
