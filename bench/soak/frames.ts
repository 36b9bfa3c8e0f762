/**
 * The soak's frames: long-lived good streams (`ws`, `window` chat frames in flight, each echoed)
 * and hostile frame sessions over hand-written frames (floods in one write, oversized, malformed,
 * too deep, forbidden keys, failing the schema, invalid UTF-8, a frame cut short by a reset, a
 * burst of pings). Each hostile session connects with a valid token from the flood pool, writes
 * its frames and reads until the server closes; its outcome is `close:<code>` (or `ok`, `reset`).
 *
 * @module
 */
import WebSocket from 'ws';
import { frame, handshake, readFrames } from '../../tests/runtimes/raw.ts';
import type { Tokens } from './clients.ts';
import { CHAT_FRAME, SOAK_ORIGIN } from './plan.ts';

/** A good, long-lived stream. */
export interface GoodStream {
  /** Exchange `n` chat frames (`window` in flight); resolves with how many were echoed intact. */
  run(n: number, timeoutMs?: number): Promise<number>;
  /** Close with 1000; resolves with the close code the server answered. */
  close(): Promise<number>;
  /** Every way it ended other than our own close (`close:<code>`, `bad-echo`, `timeout`). */
  readonly failures: string[];
}

/**
 * Frames per second a good stream sends at most: half the soak guard's per-connection limit
 * (5,000/s), so an honest client stays within it even when it runs alone at the end of a round on
 * a fast runtime (and the server's stalls bunch its frames: the limit's burst of 200 covers that).
 */
export const STREAM_RATE = 2500;
/** Frames a stream may send at once after a pause (its token bucket's size). */
const STREAM_BURST = 32;

/** Open a good stream (JWT header) from `localAddress`; bounded: 10 s. */
export function openStream(
  base: string,
  localAddress: string,
  token: string,
  window: number,
): Promise<GoodStream> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?k=stream`, {
      perMessageDeflate: false,
      localAddress,
      headers: { authorization: `Bearer ${token}`, origin: SOAK_ORIGIN },
    });
    const failures: string[] = [];
    let closedByUs = false;
    let target = 0;
    let sent = 0;
    let echoed = 0;
    let replies = 0;
    let finish: (() => void) | undefined;
    // A token bucket: STREAM_RATE per second, at most STREAM_BURST at once.
    let tokens = STREAM_BURST;
    let refilled = performance.now();
    let wake: ReturnType<typeof setTimeout> | undefined;
    const pump = (): void => {
      const now = performance.now();
      tokens = Math.min(STREAM_BURST, tokens + ((now - refilled) * STREAM_RATE) / 1000);
      refilled = now;
      while (sent < target && sent - replies < window && tokens >= 1) {
        tokens--;
        sent++;
        ws.send(CHAT_FRAME);
      }
      if (sent < target && sent - replies < window && wake === undefined)
        wake = setTimeout(() => {
          wake = undefined;
          if (ws.readyState === WebSocket.OPEN) pump();
        }, 1);
    };
    const closed = new Promise<number>((r) =>
      ws.once('close', (code) => {
        if (!closedByUs) failures.push(`close:${code}`);
        finish?.();
        r(code);
      }),
    );
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('stream did not open'));
    }, 10_000);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      reject(new Error(`stream refused: ${res.statusCode}`));
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on('message', (data) => {
      replies++;
      if (String(data) === CHAT_FRAME) echoed++;
      else if (failures.length < 100) failures.push(`bad-echo:${String(data).slice(0, 80)}`);
      if (replies >= target) finish?.();
      else pump();
    });
    ws.once('open', () => {
      clearTimeout(timer);
      ws.on('error', () => {}); // reported by 'close'
      resolve({
        failures,
        run(n, timeoutMs = 60_000) {
          const start = echoed;
          // Every frame sent before is answered by now (the previous run waited for it).
          target = sent + n;
          return new Promise<number>((done) => {
            const t = setTimeout(() => {
              failures.push('timeout');
              finish?.();
            }, timeoutMs);
            finish = () => {
              clearTimeout(t);
              finish = undefined;
              done(echoed - start);
            };
            if (ws.readyState !== WebSocket.OPEN || n === 0) return finish();
            pump();
          });
        },
        close() {
          closedByUs = true;
          if (wake !== undefined) clearTimeout(wake);
          if (ws.readyState === WebSocket.OPEN) ws.close(1000);
          const cut = setTimeout(() => ws.terminate(), 5000);
          return closed.finally(() => clearTimeout(cut));
        },
      });
    });
  });
}

/** A kind of hostile frame session. */
export type FrameAttack =
  | 'flood'
  | 'malformed'
  | 'oversize'
  | 'too-deep'
  | 'forbidden-key'
  | 'schema'
  | 'bad-utf8'
  | 'truncated'
  | 'pings';

/** The rotation of hostile frame sessions. */
export const ATTACKS: readonly FrameAttack[] = [
  'flood',
  'malformed',
  'oversize',
  'too-deep',
  'flood',
  'forbidden-key',
  'schema',
  'bad-utf8',
  'truncated',
  'pings',
];

// A banned address's (or user's) handshake is accepted and closed with 4030; a ban can also land
// in the middle of a session (its own violations crossing the threshold).
const BANNED = 'close:4030';

/** Outcomes each attack may end with. */
export const ATTACK_ALLOWED: Readonly<Record<FrameAttack, readonly string[]>> = {
  flood: ['close:4029', BANNED],
  malformed: ['close:1008', BANNED],
  oversize: ['close:1009', BANNED],
  'too-deep': ['close:1008', BANNED],
  'forbidden-key': ['close:1008', BANNED],
  schema: ['close:1008', BANNED],
  'bad-utf8': ['close:1007', BANNED],
  truncated: ['reset'],
  pings: ['ok', BANNED],
};

const repeat = (one: Buffer, n: number): Buffer =>
  Buffer.concat(Array.from({ length: n }, () => one));

/** The frames of each attack, built once, and how many frames each holds. */
function payloads(floodFrames: number): Record<FrameAttack, { bytes: Buffer; frames: number }> {
  const six = (text: string) => ({ bytes: repeat(frame(text), 6), frames: 6 });
  const big = JSON.stringify({ type: 'chat.send', text: 'x'.repeat(70 * 1024) });
  return {
    flood: { bytes: repeat(frame(CHAT_FRAME), floodFrames), frames: floodFrames },
    malformed: six('{"type":"chat.send",'),
    oversize: { bytes: frame(big), frames: 1 },
    'too-deep': six(`${'['.repeat(40)}${']'.repeat(40)}`),
    'forbidden-key': six('{"type":"chat.send","__proto__":{"admin":true}}'),
    schema: six('{"type":"chat.send","room":"general"}'),
    'bad-utf8': { bytes: frame(Buffer.from([0x22, 0xff, 0xfe, 0x22])), frames: 1 },
    // A header announcing 1,000 bytes, 10 of them, then a reset.
    truncated: { bytes: frame(Buffer.alloc(10, 0x61), { length: 1000 }), frames: 1 },
    pings: {
      bytes: Buffer.concat([
        repeat(frame('', { opcode: 9 }), 50),
        frame(CHAT_FRAME),
        frame(Buffer.from([0x03, 0xe8]), { opcode: 8 }),
      ]),
      frames: 52,
    },
  };
}

/** Runs hostile frame sessions. */
export interface Attacker {
  /** Run attack `i` of the rotation from `localAddress` as `user`. */
  run(
    i: number,
    localAddress: string,
    user: string,
  ): Promise<{ attack: FrameAttack; outcome: string; frames: number }>;
}

/** An attacker against `base`, with floods of `floodFrames` frames. */
export function makeAttacker(base: string, tokens: Tokens, floodFrames: number): Attacker {
  const built = payloads(floodFrames);
  return {
    async run(i, localAddress, user) {
      const attack = ATTACKS[i % ATTACKS.length]!;
      const h = await handshake({
        url: `${base.replace(/^http/, 'ws')}/ws?k=${attack}`,
        headers: { authorization: `Bearer ${tokens.valid(user)}`, origin: SOAK_ORIGIN },
        localAddress,
      });
      if (h.status !== 101) {
        h.socket.destroy();
        return { attack, outcome: `http:${h.status}`, frames: 0 };
      }
      const { bytes, frames } = built[attack];
      h.socket.write(bytes);
      if (attack === 'truncated') {
        await new Promise((r) => setTimeout(r, 2));
        h.socket.resetAndDestroy();
        return { attack, outcome: 'reset', frames };
      }
      const r = await readFrames(h.socket, h.rest, 10_000);
      h.socket.destroy();
      if (!r.ended) return { attack, outcome: 'no-close', frames };
      const code = r.closeCode;
      if (attack === 'pings' && code === 1000 && r.texts.includes(CHAT_FRAME))
        return { attack, outcome: 'ok', frames };
      return { attack, outcome: code === undefined ? 'no-close-frame' : `close:${code}`, frames };
    },
  };
}
