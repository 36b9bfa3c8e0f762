/**
 * The frame-header reader of the Deno adapter's front (adapters/deno-frames.ts): what it refuses,
 * from the header alone, whatever the chunking; and that it lets every valid frame through.
 */
import { describe, expect, it } from 'vitest';
import { closeFrame, FrameScanner } from '../../adapters/deno-frames.ts';
import { frame } from './raw.ts';

const client = (max = 1024) => new FrameScanner({ requireMask: true, maxMessageBytes: max });

/** Scan `bytes` in chunks of `size`; the offset of a refusal in the whole stream, or -1. */
function scanInChunks(scanner: FrameScanner, bytes: Uint8Array, size: number): number {
  for (let off = 0; off < bytes.length; off += size) {
    const at = scanner.scan(bytes.subarray(off, off + size));
    if (at >= 0) return off + at;
  }
  return -1;
}

describe('FrameScanner', () => {
  it('passes valid masked frames, whatever the chunk size, and ends at a boundary', () => {
    const stream = Buffer.concat([
      frame('{"a":1}'),
      frame(Buffer.alloc(300, 1), { opcode: 2 }),
      frame('', { opcode: 9 }), // ping
      frame('x'.repeat(1000)),
      frame('a', { fin: false }),
      frame('b', { opcode: 0, fin: true }),
    ]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const s = client();
      expect(scanInChunks(s, stream, size), `chunks of ${size}`).toBe(-1);
      expect(s.atBoundary).toBe(true);
      expect(s.refusal).toBeUndefined();
    }
  });

  it('refuses a frame over the limit from its header, before the payload', () => {
    const ok = frame('ok');
    const header = frame(Buffer.alloc(0), { length: 50 * 1024 * 1024 }).subarray(0, 14);
    for (const size of [1, 5, 100]) {
      const s = client();
      // Refused within its 14-byte header (where the header's last chunk starts, when split).
      const at = scanInChunks(s, Buffer.concat([ok, header]), size);
      expect(at).toBeGreaterThanOrEqual(ok.length);
      expect(at).toBeLessThan(ok.length + header.length);
      expect(s.refusal).toMatchObject({ reason: 'too_big', closeCode: 1009 });
    }
  });

  it('refuses a fragmented message once its fragments together pass the limit', () => {
    const parts = [frame('x'.repeat(600), { fin: false }), frame('y'.repeat(600), { opcode: 0 })];
    const s = client(1000);
    expect(s.scan(parts[0]!)).toBe(-1);
    expect(s.scan(parts[1]!)).toBe(0);
    expect(s.refusal?.reason).toBe('too_big');
    // A control frame between fragments does not count; a new message starts from zero.
    const t = client(1000);
    const ok = Buffer.concat([
      frame('x'.repeat(600), { fin: false }),
      frame('', { opcode: 9 }),
      frame('y'.repeat(300), { opcode: 0 }),
      frame('z'.repeat(900)),
    ]);
    expect(t.scan(ok)).toBe(-1);
  });

  it('refuses a 64-bit length whose high word is set', () => {
    const head = Buffer.from([0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]);
    const s = client(Number.MAX_SAFE_INTEGER);
    expect(s.scan(head)).toBe(-1); // 2^32 bytes is under MAX_SAFE_INTEGER
    const t = client(64 * 1024);
    expect(t.scan(head)).toBe(0);
    expect(t.refusal?.closeCode).toBe(1009);
  });

  it('refuses unmasked client frames, RSV bits, unknown opcodes and broken control frames (1002)', () => {
    const cases: [string, Buffer][] = [
      ['unmasked', frame('{}', { mask: false })],
      ['rsv1', frame('{}', { rsv: 4 })],
      ['opcode 3', frame('{}', { opcode: 3 })],
      ['fragmented ping', frame('', { opcode: 9, fin: false })],
      ['ping over 125', frame(Buffer.alloc(126), { opcode: 9 })],
    ];
    for (const [name, bytes] of cases) {
      const s = client();
      expect(s.scan(Buffer.concat([frame('ok'), bytes])), name).toBe(frame('ok').length);
      expect(s.refusal, name).toMatchObject({ reason: 'protocol', closeCode: 1002 });
      expect(s.scan(frame('after')), 'nothing after a refusal passes').toBe(0);
    }
  });

  it('on the server side, tells when a whole close frame went by, and where frames end', () => {
    const s = new FrameScanner({ requireMask: false });
    const close = closeFrame(4029, 'too many requests');
    const stream = Buffer.concat([frame('x'.repeat(200), { mask: false }), close]);
    expect(s.scan(stream.subarray(0, stream.length - 1))).toBe(-1);
    expect(s.closeSeen).toBe(false);
    expect(s.atBoundary).toBe(false);
    s.scan(stream.subarray(stream.length - 1));
    expect(s.closeSeen).toBe(true);
    expect(s.atBoundary).toBe(true);
  });

  it('encodes a close frame with its code, and cuts a long reason on a character', () => {
    expect([...closeFrame(1005, 'ignored')]).toEqual([0x88, 0]);
    const f = closeFrame(4001, 'é'.repeat(100));
    expect(f[0]).toBe(0x88);
    expect(f[1]).toBe(f.length - 2);
    expect(f.length - 4).toBeLessThanOrEqual(123);
    expect((f[2]! << 8) | f[3]!).toBe(4001);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(f.subarray(4))).not.toThrow();
  });
});
