/**
 * Sockets opened and closes reported, so that an attempt can wait for the last close. tRPC may
 * start the next attempt before the previous socket's close reaches the client (a socket closed
 * right after it opened counts as failing to open), and that close may ask for a refresh (4002)
 * the attempt must make first: without the wait, the refresh came one attempt late.
 *
 * @module
 */

/** The tally of one client's sockets. */
export interface CloseTally {
  /** A socket opened. */
  opened(): void;
  /** A socket's close was reported (and handled: a waiter resumes after the caller returns). */
  closed(): void;
  /** Until every opened socket's close is reported (at most 1 s); `undefined` when it is. */
  wait(): Promise<void> | undefined;
}

/** A tally starting at nothing open. */
export function createCloseTally(): CloseTally {
  // Sockets open whose close is not reported yet; a socket that never opened closes too, hence
  // the floor at 0.
  let open = 0;
  // Every waiter resumes at the last close, or at its own 1 s bound, whose timer is then cleared
  // (a pending timer would hold a Node process open for that second).
  const waiters = new Set<() => void>();
  return {
    opened: () => void open++,
    closed: () => {
      open = Math.max(0, open - 1);
      if (!open) for (const resume of [...waiters]) resume();
    },
    wait: () =>
      open
        ? new Promise((resolve) => {
            const resume = (): void => {
              clearTimeout(timer);
              waiters.delete(resume);
              resolve();
            };
            const timer = setTimeout(resume, 1000);
            waiters.add(resume);
          })
        : undefined,
  };
}
