/**
 * The message probes an open socket can send (oversized, flooding, deeply nested, malformed,
 * prototype-keyed, invalid UTF-8 and binary frames). Each is judged by the reply's meaning (an
 * error frame or a close means refused; an echo or an app answer means it got through), never by
 * "any reply".
 *
 * @module
 */
import type WebSocket from 'ws';
import { describe, type Outcome } from './attempt.ts';
import { fail, type Judgement, type Probe, type ProbeContext, pass, warn } from './probe.ts';
import { anyError } from './replies.ts';

/** Send `payload` on a socket from {@link ProbeContext.socketUrl} and watch. */
function sendOne(
  ctx: ProbeContext,
  send: (ws: WebSocket) => void,
  waitMs = ctx.waitMs,
): Promise<Outcome> {
  return ctx.attempt({
    url: ctx.socketUrl!,
    origin: ctx.origin,
    waitMs,
    send,
    settleAfterFrames: 1,
  });
}

/** Refused (error reply or close), echoed / answered (through), or silent. */
function judgeRefusable(
  o: Outcome,
  payload: string,
  silentSeverity: 'low' | 'medium' = 'low',
): Judgement {
  if (o.closeCode !== undefined) return pass(`closed: ${describe(o)}`);
  if (anyError(o.replies)) return pass(`error reply: ${o.replies[0]?.slice(0, 120)}`);
  if (o.replies.some((r) => r === payload.slice(0, r.length) && r.length > 0))
    return fail(`echoed back: the payload reached the app unchecked`, o.replies[0]?.slice(0, 120));
  if (o.frames > 0)
    return fail(`answered without an error: ${describe(o)}`, o.replies[0]?.slice(0, 120));
  return warn(
    `no reply and no close within ${o.ms} ms: cannot tell if it reached the app`,
    silentSeverity,
  );
}

function messageProbe(p: Omit<Probe, 'category' | 'needs'>): Probe {
  return { ...p, category: 'messages', needs: 'socket' };
}

const SIZES = [128 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024];
const kib = (n: number): string => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);

const oversize = messageProbe({
  id: 'messages.size',
  check: 'message size grown until refused (128 KiB .. 16 MiB)',
  severity: 'medium',
  expected: 'close 1009 at a small size (wsguard: 64 KiB)',
  fix: 'Cap the message size before parsing (createGuard({ messages: { maxBytes } })).',
  run: async (ctx) => {
    for (const size of SIZES) {
      const o = await sendOne(ctx, (ws) => ws.send('x'.repeat(size)));
      if (o.closeCode !== undefined || anyError(o.replies)) {
        const how = describe(o);
        if (size <= 1 << 20) return pass(`refused at ${kib(size)}: ${how}`);
        return warn(`refused only at ${kib(size)}: ${how}`, 'low');
      }
    }
    return fail(`every size up to 16 MiB accepted`);
  },
});

const flood = messageProbe({
  id: 'messages.rate',
  check: 'message rate (5,000 frames at once)',
  severity: 'medium',
  expected: 'close 4029, or rate-limit error replies',
  fix: 'Rate-limit messages per connection and per user (createGuard({ limits: { messageRate } })).',
  run: async (ctx) => {
    const o = await ctx.attempt({
      url: ctx.socketUrl!,
      origin: ctx.origin,
      waitMs: ctx.waitMs,
      send: (ws) => {
        for (let i = 0; i < 5000; i++) ws.send(`{"type":"ping","n":${i}}`);
      },
    });
    if (o.closeCode !== undefined) return pass(`closed: ${describe(o)}`);
    if (anyError(o.replies)) return pass(`refused with error replies (${o.frames} frames back)`);
    return fail(`all accepted: ${describe(o)}`, o.replies[0]);
  },
});

const deep = messageProbe({
  id: 'messages.deep-json',
  check: 'deeply nested JSON (10,000 levels, 20 KB)',
  severity: 'medium',
  expected: 'an error reply or a close (1008), the server still up',
  fix: 'Bound JSON depth before JSON.parse (wsguard: messages.maxDepth, 32).',
  run: async (ctx) => {
    const payload = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    return judgeRefusable(await sendOne(ctx, (ws) => ws.send(payload)), payload);
  },
});

const malformed = messageProbe({
  id: 'messages.malformed',
  check: 'malformed JSON',
  severity: 'low',
  expected: 'an error reply, or a close (1008) after repeats',
  fix: 'Parse every frame and answer bad ones with an error (wsguard does, then 1008 after maxInvalid).',
  run: async (ctx) => {
    const payload = '{"type":"chat","text":';
    return judgeRefusable(await sendOne(ctx, (ws) => ws.send(payload)), payload);
  },
});

const proto = messageProbe({
  id: 'messages.prototype-key',
  check: 'prototype keys (__proto__, constructor.prototype)',
  severity: 'medium',
  expected: 'an error reply or a close (1008)',
  fix: 'Refuse __proto__ / constructor / prototype keys (wsguard: forbidden-key check).',
  run: async (ctx) => {
    const payload =
      '{"type":"chat","__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}';
    const o = await sendOne(ctx, (ws) => ws.send(payload));
    if (o.replies.some((r) => r.includes('__proto__') && !anyError([r])))
      return fail('echoed or accepted the __proto__ key', o.replies[0]?.slice(0, 120));
    return judgeRefusable(o, payload);
  },
});

const utf8 = messageProbe({
  id: 'messages.invalid-utf8',
  check: 'invalid UTF-8 in a text frame',
  severity: 'medium',
  expected: 'close 1007',
  fix: 'Validate text frames as UTF-8 (RFC 6455 §8.1) and close with 1007.',
  run: async (ctx) => {
    const o = await sendOne(ctx, (ws) =>
      ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }),
    );
    if (o.closeCode === 1007) return pass(`closed 1007${o.reason ? ` (${o.reason})` : ''}`);
    if (o.closeCode !== undefined || anyError(o.replies))
      return warn(`refused, not with 1007: ${describe(o)}`, 'low');
    if (o.frames > 0) return fail(`answered: ${describe(o)}`, o.replies[0]);
    return warn(`no reply and no close within ${o.ms} ms`, 'low');
  },
});

const binary = messageProbe({
  id: 'messages.binary',
  check: 'binary frame',
  severity: 'info',
  expected: 'refused (1003 / error) unless the app speaks binary',
  fix: 'Refuse binary frames when the protocol is JSON text.',
  run: async (ctx) => {
    const o = await sendOne(ctx, (ws) => ws.send(Buffer.from([1, 2, 3, 4]), { binary: true }));
    return pass(describe(o));
  },
});

/** The message probes, in order (the size probe last but one: it costs the most penalty). */
export const MESSAGE_PROBES: readonly Probe[] = [
  deep,
  malformed,
  proto,
  utf8,
  binary,
  flood,
  oversize,
];
