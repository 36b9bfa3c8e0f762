/**
 * A follower's catch-up (`XRANGE` from its last id, page by page). Each read is retried with
 * back-off while Redis is unavailable, rather than failing the follower; one more read tells
 * whether its last id is still held; and every entry must be its predecessor's successor, which a
 * page trimmed away between two reads is not.
 *
 * @module
 */
import { runBounded } from '../store/run-bounded.ts';
import type { FeedContext } from './feed-context.ts';
import { FeedError } from './feed-error.ts';
import type { Follower } from './follower.ts';
import { follows, gapError } from './sequence.ts';
import { PAGE, type RawEntry, rawEntries } from './stream-entries.ts';
import { compareIds } from './stream-id.ts';
import type { Position } from './topics.ts';

/**
 * The events of `key` after `lastEventId`, in order; returns where it ended (the follower goes
 * live from there), or `undefined` once the follower ended. A gap (the last id no longer held, a
 * page trimmed away meanwhile) fails it with `trimmed`, or is reported and stepped over with
 * `onTrimmed: 'resume'`.
 */
export async function* catchUp<T>(
  ctx: FeedContext<T>,
  f: Follower<T>,
  key: string,
  lastEventId: string,
): AsyncGenerator<[id: string, value: T], Position | undefined> {
  let at: Position = { id: lastEventId, n: undefined };
  let checkStart = lastEventId !== '0-0';
  for (;;) {
    // Each page is asked after the overflow flag is cleared, so events dropped from the live
    // queue while a page was in flight are read by the next page.
    f.overflowed = false;
    const start = checkStart ? lastEventId : `(${at.id}`;
    const page = await readEntries(ctx, f, 'XRANGE', key, start, '+', 'COUNT', PAGE);
    if (page === undefined) return undefined;
    let i = 0;
    if (checkStart) {
      checkStart = false;
      if (page[0]?.id === lastEventId) {
        at = page[0];
        i = 1;
      } else if (await trimmedAfter(ctx, f, key, lastEventId)) {
        if (f.ended) return undefined;
        gap(
          ctx,
          new FeedError(
            'trimmed',
            f.topic,
            `events of "${f.topic}" after ${lastEventId} are no longer held; reload and follow from null`,
          ),
        );
      }
    }
    for (; i < page.length; i++) {
      const raw = page[i]!;
      if (!follows(at.n, raw.n)) gap(ctx, gapError(f.topic, at.n!, raw.n!));
      at = raw;
      const decoded = ctx.decode(raw, key);
      if (decoded !== undefined) yield [raw.id, decoded.value];
      if (f.ended) return undefined;
    }
    if (page.length < PAGE && !f.overflowed) return at;
  }
}

/** A gap: thrown (`onTrimmed: 'throw'`), or reported and stepped over. */
function gap<T>(ctx: FeedContext<T>, error: FeedError): void {
  if (ctx.throwOnTrim) throw error;
  ctx.report(error);
}

/** A catch-up read, retried (with back-off) while Redis is unavailable; `undefined` once ended. */
export async function readEntries<T>(
  ctx: FeedContext<T>,
  f: Follower<T>,
  ...args: [string, ...(string | number)[]]
): Promise<RawEntry[] | undefined> {
  let delay = 50;
  for (;;) {
    if (f.ended) return undefined;
    try {
      const reply = await runBounded(`redis feed: ${args[0]}`, ctx.timeoutMs, () =>
        ctx.client.call(...args),
      );
      ctx.recovered();
      return rawEntries(reply);
    } catch (error) {
      // A key of another type under the prefix is a configuration error: retrying cannot help.
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof Error && cause.message.startsWith('WRONGTYPE')) throw cause;
      ctx.failed(error);
    }
    await Promise.race([ctx.sleep(delay), f.park()]);
    delay = Math.min(delay * 2, 1000);
  }
}

/** True when the stream no longer holds `lastId` and holds nothing at or before it. */
export async function trimmedAfter<T>(
  ctx: FeedContext<T>,
  f: Follower<T>,
  key: string,
  lastId: string,
): Promise<boolean> {
  const oldest = await readEntries(ctx, f, 'XRANGE', key, '-', '+', 'COUNT', 1);
  if (oldest === undefined) return false;
  const first = oldest[0];
  return first === undefined || compareIds(first.id, lastId) > 0;
}
