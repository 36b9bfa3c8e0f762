/**
 * The compression probes, which check whether the server negotiates permessage-deflate and, if it
 * does, whether it bounds what a frame inflates to. One compressed frame of 16 MiB (a few KiB on the
 * wire) must be refused (1009, or a policy close) within a bounded time, and the server must still
 * open a new connection afterwards. Both probes judge the same one attempt.
 *
 * @module
 */
import type WebSocket from 'ws';
import { describe, type Outcome } from './attempt.ts';
import { fail, type Judgement, type Probe, type ProbeContext, pass, warn } from './probe.ts';
import { anyError } from './replies.ts';

/** What the inflate bomb inflates to. */
export const BOMB_BYTES: number = 16 * 1024 * 1024;
/** The least time the bomb is watched (inflating and answering 16 MiB takes a moment). */
const BOMB_WAIT_MS = 2000;

/** What the one compressed-frame attempt showed. */
interface BombSeen {
  /** The extensions the server accepted (`ws.extensions`), `''` when none. */
  readonly extensions: string;
  readonly outcome: Outcome;
  /** Whether a new connection got an answer afterwards (only asked when deflate was accepted). */
  readonly serving?: boolean;
}

// One attempt per audit serves both probes; a ban (a throw) leaves nothing cached, so the retry
// from the next source address attempts again.
const seenBy = new WeakMap<ProbeContext, BombSeen>();

async function bomb(ctx: ProbeContext): Promise<BombSeen> {
  const cached = seenBy.get(ctx);
  if (cached) return cached;
  let extensions = '';
  const outcome = await ctx.attempt({
    url: ctx.socketUrl!,
    origin: ctx.origin,
    waitMs: Math.max(ctx.waitMs, BOMB_WAIT_MS),
    settleAfterFrames: 1,
    send: (ws: WebSocket) => {
      extensions = ws.extensions;
      // Declined: nothing to send; close at once rather than watch an idle socket.
      if (!extensions.includes('permessage-deflate')) {
        ws.close(1000);
        return;
      }
      const text = `{"type":"chat","text":"${'A'.repeat(BOMB_BYTES)}"}`;
      ws.send(text, { compress: true });
    },
  });
  let seen: BombSeen = { extensions, outcome };
  if (extensions.includes('permessage-deflate')) {
    const after = await ctx.attempt({
      url: ctx.socketUrl!,
      origin: ctx.origin,
      waitMs: ctx.waitMs,
      settleOnOpen: true,
    });
    seen = { ...seen, serving: after.opened || after.status !== undefined };
  }
  seenBy.set(ctx, seen);
  return seen;
}

const deflated = (s: BombSeen): boolean => s.extensions.includes('permessage-deflate');

/** Refused: a close other than a drop (1006), or an error reply, and still serving. */
function refusedBomb(s: BombSeen): boolean {
  const o = s.outcome;
  const closed = o.closeCode !== undefined && o.closeCode !== 1006;
  return s.serving === true && (closed || anyError(o.replies));
}

function judgeBomb(s: BombSeen): Judgement {
  const o = s.outcome;
  if (!deflated(s)) return pass('permessage-deflate declined: no compressed frame can be sent');
  if (refusedBomb(s))
    return pass(`refused within ${o.ms} ms (${describe(o)}); a new connection opens`);
  if (s.serving !== true)
    return fail(`${describe(o)}, then no new connection: the server stopped serving`);
  if (o.frames > 0)
    return fail(
      `inflated and answered: the ${BOMB_BYTES >> 20} MiB frame reached the app`,
      o.replies[0]?.slice(0, 80),
    );
  return warn(
    `no close within ${o.ms} ms (${describe(o)}): inflated or ignored, still serving`,
    'medium',
  );
}

const unbounded: Probe = {
  id: 'compression.deflate-unbounded',
  check: 'permessage-deflate offered',
  category: 'compression',
  severity: 'medium',
  needs: 'socket',
  expected: 'declined, or accepted with the inflated size bounded (the bomb below refused)',
  fix: 'Leave compression off (wsguard: serve({ compression: false }), the default), or bound the inflated size (maxPayload).',
  run: async (ctx) => {
    const s = await bomb(ctx);
    if (!deflated(s)) return pass(`declined (${describe(s.outcome)})`);
    if (refusedBomb(s)) return pass(`accepted (${s.extensions}); inflated size bounded`);
    return fail(`accepted (${s.extensions}) with no bound on the inflated size`);
  },
};

const inflateBomb: Probe = {
  id: 'compression.inflate-bomb',
  check: `inflate bomb (one frame inflating to ${BOMB_BYTES >> 20} MiB)`,
  category: 'compression',
  severity: 'high',
  needs: 'socket',
  expected: 'close 1009 (or a policy close) within the wait, and a new connection opens',
  fix: 'Bound the size after inflating (ws: maxPayload; wsguard does: messages.maxBytes), or turn compression off.',
  run: async (ctx) => judgeBomb(await bomb(ctx)),
};

/** The compression probes, in order. */
export const COMPRESSION_PROBES: readonly Probe[] = [unbounded, inflateBomb];
