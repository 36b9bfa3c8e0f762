/**
 * A follower's catch-up reads (`XRANGE` from its last id). Each is retried with back-off while
 * Redis is unavailable, rather than failing the follower; one more read tells whether its last id
 * is still held.
 *
 * @module
 */
import { runBounded } from '../store/run-bounded.ts';
import type { FeedContext } from './feed-context.ts';
import type { Follower } from './follower.ts';
import { type RawEntry, rawEntries } from './stream-entries.ts';
import { compareIds } from './stream-id.ts';

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
