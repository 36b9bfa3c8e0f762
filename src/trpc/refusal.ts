/**
 * What answering a refused frame may cost. A refusal must never cost the server more than the
 * frame that caused it, so the replies to one refused frame are bounded three ways:
 *
 * - **count**: at most `maxReplies` (the bridge's `maxBatchSize`: no more than an accepted frame
 *   could have been answered with);
 * - **bytes**: the first reply is always sent (one call that was rate limited is told so), and
 *   the others at most {@link REFUSAL_BYTES_PER_BYTE} bytes per byte of the frame: out ≤ one
 *   reply + 2 × in;
 * - **work**: the ids are read by {@link visitCallIds}-style walkers that stop at the first call
 *   past the bounds, and every reply is the same serialized error with its id spliced in.
 *
 * When a call is left unanswered, the outcome says so and the bridge closes the connection (the
 * unmodified client fails what is still pending when the socket closes, and resubscribes its
 * subscriptions on the next one), rather than leave the call waiting forever. A frame is then
 * answered with at most its calls' worth of replies and a close frame, and nothing after it is
 * read: a flood of such frames costs one answer.
 *
 * @module
 */
import type { CallId, WalkEnd } from './call-ids.ts';

/**
 * Bytes the replies after the first may take per byte of the refused frame. A call the
 * unmodified client sends (`{"id":12,"method":"query","params":{"input":{"n":3},"path":"echo"}}`)
 * is 67 bytes, and tRPC's default error shape for it 118–135 (no stack: the bridge drops it), so
 * such a batch is answered in full; a frame of bare `{"id":n,"method":"query"}` calls (25 bytes
 * each) is not, and is cut off.
 */
export const REFUSAL_BYTES_PER_BYTE = 2;

/** How one refused frame is answered. */
export interface RefusalPlan {
  /** Most replies. */
  readonly maxReplies: number;
  /** Size of the refused frame in bytes (a lower bound is fine: it only tightens the budget). */
  readonly bytesIn: number;
  /** The JSON of the error every reply carries (serialized once per refused frame). */
  readonly errorJson: string;
  /** Ids not to answer (this connection's live subscriptions: a refused frame cannot end them). */
  readonly skip: (id: string | number) => boolean;
  /** Send one reply frame. */
  readonly send: (reply: string) => void;
}

/** What a refusal sent. */
export interface RefusalOutcome {
  /** Replies sent, the id-less one included. */
  readonly replies: number;
  /** Bytes sent (UTF-8). */
  readonly bytesOut: number;
  /** False when a call of the frame was left unanswered (the bridge then closes). */
  readonly complete: boolean;
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/**
 * Answer the calls a walker finds, within the plan's bounds. `walk` calls its visitor for each
 * call id in frame order and stops when the visitor returns false.
 */
export function answerRefusal(
  walk: (visit: (call: CallId) => boolean) => WalkEnd | undefined,
  plan: RefusalPlan,
): RefusalOutcome {
  const budget = REFUSAL_BYTES_PER_BYTE * Math.max(0, plan.bytesIn);
  const errorBytes = utf8Length(plan.errorJson);
  let replies = 0;
  let bytesOut = 0;
  // Bytes of the replies after the first: what the budget bounds.
  let charged = 0;
  let calls = 0;
  let complete = true;
  walk((call) => {
    calls++;
    if (plan.skip(call.id)) return true;
    const head = `{"id":${JSON.stringify(call.id)}${call.jsonrpc ? ',"jsonrpc":"2.0"' : ''},"error":`;
    const size = utf8Length(head) + errorBytes + 1;
    if (replies >= plan.maxReplies || (replies > 0 && charged + size > budget)) {
      complete = false;
      return false;
    }
    plan.send(`${head}${plan.errorJson}}`);
    if (replies > 0) charged += size;
    replies++;
    bytesOut += size;
    return true;
  });
  if (calls === 0) {
    // Nothing to match an answer to: one error without an id says why the frame was dropped.
    const reply = `{"id":null,"error":${plan.errorJson}}`;
    plan.send(reply);
    replies++;
    bytesOut += utf8Length(reply);
  }
  return { replies, bytesOut, complete };
}
