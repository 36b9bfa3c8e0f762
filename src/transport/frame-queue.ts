/**
 * The frame queue, so that frames are decided in arrival order, one at a time, even when a
 * decision is async (first-message auth, an async `canAccess`, a `Blob` to read). Frames arriving meanwhile
 * wait, bounded by `maxQueuedMessages` and `maxQueuedBytes`; over either, the connection is closed
 * with 4029.
 *
 * @module
 */
import type { Message, Peer } from 'crossws';
import { CloseCode } from '../core/codes.ts';
import type { MessageDecision } from '../guard/types.ts';
import { closePeer, fail } from './close.ts';
import type { HooksContext } from './context.ts';
import { apply } from './deliver.ts';
import type { PeerState } from './peer-state.ts';
import { stateOf } from './slots.ts';

/** A frame's size for the queue bound: a string counts 3 bytes a code unit (UTF-8 at worst). */
const sizeOf = (raw: unknown): number =>
  typeof raw === 'string'
    ? raw.length * 3
    : raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)
      ? raw.byteLength
      : raw instanceof Blob
        ? raw.size
        : 0;

function decide(
  ctx: HooksContext,
  s: PeerState,
  message: Message,
  frame: string | ArrayBuffer | ArrayBufferView,
): void {
  let d: MessageDecision | Promise<MessageDecision>;
  try {
    d = ctx.guard.message(s.connection, frame);
  } catch (error) {
    fail(ctx, s, error);
    return;
  }
  if (!(d instanceof Promise)) {
    apply(ctx, s, message, d, frame);
    return;
  }
  s.busy = true;
  d.then(
    (decision) => {
      s.busy = false;
      apply(ctx, s, message, decision, frame);
      pump(ctx, s);
    },
    (error: unknown) => fail(ctx, s, error),
  );
}

function handle(ctx: HooksContext, s: PeerState, message: Message): void {
  const raw = message.rawData;
  if (typeof raw === 'string' || raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
    decide(ctx, s, message, raw);
    return;
  }
  if (raw instanceof Blob) {
    s.busy = true;
    raw.arrayBuffer().then(
      (buffer) => {
        s.busy = false;
        if (!s.closing) decide(ctx, s, message, buffer);
        pump(ctx, s);
      },
      (error: unknown) => fail(ctx, s, error),
    );
    return;
  }
  decide(ctx, s, message, message.uint8Array());
}

/** Decide queued frames in arrival order until one needs to wait. */
export function pump(ctx: HooksContext, s: PeerState): void {
  while (!s.busy && !s.closing) {
    const queue = s.queue;
    const next = queue?.shift();
    if (!queue || queue.length === 0) s.queue = undefined;
    if (!next) return;
    s.queuedBytes -= sizeOf(next.rawData);
    handle(ctx, s, next);
  }
}

/** A frame arrived: decided at once when nothing is in flight, else queued (bounded). */
export function receive(ctx: HooksContext, peer: Peer, msg: Message): void {
  const s = stateOf(peer);
  if (!s || s.closing) return;
  if (!s.busy && s.queue === undefined) {
    handle(ctx, s, msg);
    return;
  }
  const n = sizeOf(msg.rawData);
  if ((s.queue?.length ?? 0) >= ctx.maxQueued || s.queuedBytes + n > ctx.maxQueuedBytes) {
    closePeer(ctx, s, CloseCode.RateLimited, 'too many pending messages');
    return;
  }
  if (s.queue) s.queue.push(msg);
  else s.queue = [msg];
  s.queuedBytes += n;
}
