/**
 * A connection never outlives its credential, and an unauthenticated one never outlives its
 * auth deadline, even if it stays silent: one timer per connection closes it (4002 / 4001). It
 * re-reads the deadline when it fires, because an in-band refresh may have moved it.
 *
 * @module
 */
import type { ConnectionState } from './connection.ts';

/** The longest a connection's timer is armed for (see {@link createDeadlines}). */
const TIMER_SLICE_MS = 60_000;

/** The deadline timers of one guard. */
export interface Deadlines {
  /** (Re-)arm `c`'s one timer for its current deadline; a no-op before the socket is attached. */
  arm(c: ConnectionState): void;
  /** Clear `c`'s timer (at release). */
  clear(c: ConnectionState): void;
}

/** Deadlines on `now`'s clock; `expire` closes a connection whose deadline has passed. */
export function createDeadlines(
  now: () => number,
  expire: (c: ConnectionState) => void,
): Deadlines {
  const clear = (c: ConnectionState): void => {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
  };
  const arm = (c: ConnectionState): void => {
    clear(c);
    if (c.closed || !c.terminate) return;
    const deadline = c.principal ? c.expiresAt : c.authDeadline;
    if (deadline === undefined) return;
    // At most a minute; a later deadline re-arms when it fires. Node keeps a timer list per
    // distinct duration and, for an unref'd timer, keeps it after clearTimeout until that duration
    // has passed: a duration of its own per connection (exp - now) left ~150 B per closed
    // connection until its token's expiry. Every far deadline waits the same minute: one list.
    const delay = Math.min(Math.max(0, deadline - now()), TIMER_SLICE_MS);
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.closed) return;
      const d = c.principal ? c.expiresAt : c.authDeadline;
      if (d === undefined) return;
      if (now() < d) {
        arm(c);
        return;
      }
      expire(c);
    }, delay);
    (c.timer as { unref?: () => void }).unref?.();
  };
  return { arm, clear };
}
