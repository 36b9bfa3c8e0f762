/**
 * Stream entries, as Redis replies with them and as the feed holds them. An entry's text is in
 * its `v` field (`[id, [field, value, ...]]`) and its place in the topic in its `n` field (1 for
 * the topic's first event, then +1 per publish), which is how a reader knows that the next entry
 * it reads is the successor of the last one it delivered. A reply of another shape yields nothing.
 *
 * @module
 */

/** An entry as read: its id and the text of its `v` field, if any. */
export interface RawEntry {
  /** Stream id. */
  readonly id: string;
  /** The serialised value; `undefined` when the entry has no `v` field. */
  readonly text: string | undefined;
  /** Its sequence number in the topic; `undefined` for an entry written without one. */
  readonly n: number | undefined;
}

/** An entry decoded, as queued for followers (one object shared by every follower of a topic). */
export interface Entry<T> {
  /** Stream id. */
  readonly id: string;
  /** Sequence number in the topic, if the entry has one. */
  readonly n: number | undefined;
  /**
   * The decoded value (read-only for followers), or `undefined` when it could not be read: such an
   * entry is still queued, so that a follower steps over it rather than see a gap.
   */
  readonly decoded: { readonly value: T } | undefined;
}

/** The entries of an `XRANGE` reply, or of one stream of an `XREAD` reply. */
export function rawEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: RawEntry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item)) continue;
    const [id, fields] = item as [unknown, unknown];
    if (typeof id !== 'string') continue;
    let text: string | undefined;
    let n: number | undefined;
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const field = String(fields[i]);
        if (field === 'v') text = String(fields[i + 1]);
        else if (field === 'n') n = sequenceNumber(fields[i + 1]);
      }
    }
    out.push({ id, text, n });
  }
  return out;
}

/** Entries asked per read (`COUNT`): one catch-up page, or at most one live batch. */
export const PAGE = 512;

/** A positive safe integer from an `n` field; anything else counts as no sequence number. */
function sequenceNumber(raw: unknown): number | undefined {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
