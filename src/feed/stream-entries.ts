/**
 * Stream entries, as Redis replies with them and as the feed holds them. An entry's text is in
 * its `v` field (`[id, [field, value, ...]]`); a reply of another shape yields nothing.
 *
 * @module
 */

/** An entry as read: its id and the text of its `v` field, if any. */
export interface RawEntry {
  /** Stream id. */
  readonly id: string;
  /** The serialised value; `undefined` when the entry has no `v` field. */
  readonly text: string | undefined;
}

/** An entry decoded, as queued for followers (one object shared by every follower of a topic). */
export interface Entry<T> {
  /** Stream id. */
  readonly id: string;
  /** The decoded value; read-only for followers. */
  readonly value: T;
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
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (String(fields[i]) === 'v') {
          text = String(fields[i + 1]);
          break;
        }
      }
    }
    out.push({ id, text });
  }
  return out;
}

/** Entries asked per read (`COUNT`): one catch-up page, or at most one live batch. */
export const PAGE = 512;
