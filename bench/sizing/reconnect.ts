/**
 * The reconnect of one dropped connection, paced by the real policy of `wsguard/client`: its
 * attempt run (`createAttemptRun`: the retry budget, one immediate reconnect per run after
 * 1001/4002, full-jitter backoff honouring the server's hint otherwise), its close-code contract
 * (`closeAction`) and its hint parser (`retryHintMs`), called in the order
 * `createGuardedWSClient` calls them (`src/client/ws-client.ts`, `lifecycle.ts`).
 *
 * Why not the client itself: `createGuardedWSClient` is tRPC's `createWSClient` underneath, which
 * opens sockets through the global `WebSocket` and cannot bind a source address, and 20,000 tRPC
 * clients in one process would measure tRPC. The sockets here are `ws` sockets with a
 * `localAddress`; the decisions (when to try again, when to give up) are the client's own code.
 *
 * @module
 */
import { createAttemptRun } from '../../src/client/attempt-run.ts';
import { closeAction } from '../../src/client/policy.ts';
import type { Attempt } from './connect.ts';

/** How a reconnect ended. */
export type Ended = 'open' | 'stopped' | 'gave-up';

/** What the reconnect reports as it goes. */
export interface ReconnectEvents {
  /** An attempt failed with `outcome` (`ticket:429`, `http:503`, `close:4008`…). */
  refused(outcome: string): void;
  /** An attempt is about to start. */
  attempt(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reconnect until open, stopped or out of budget. */
export interface Reconnector {
  /** The socket opened: a connection open 5 s ends the client's run of attempts. */
  opened(): void;
  /**
   * The server closed the socket with `code`/`reason`: reconnect as the client would, with
   * `connect` making each attempt. Resolves with the new socket's attempt or how it ended.
   */
  closed(
    code: number,
    reason: string,
    connect: () => Promise<Attempt>,
    events: ReconnectEvents,
  ): Promise<{ ended: Ended; attempt?: Attempt }>;
}

/** A reconnector with the client's default backoff (500 ms base, 30 s max, 10 attempts, 5 min). */
export function createReconnector(): Reconnector {
  const run = createAttemptRun(undefined);
  /** The client's reaction to a close (ws-client.ts `closed`); `false` when it stops. */
  const onClose = (code: number, reason: string): boolean => {
    const action = closeAction(code);
    run.closed(false);
    if (action === 'stop') return false;
    run.failed(code, reason);
    run.afterClose(action, reason);
    return true;
  };
  return {
    opened: () => run.opened(),
    async closed(code, reason, connect, events) {
      if (!onClose(code, reason)) return { ended: 'stopped' };
      // tRPC's reconnect loop: attempt index 0, 1, 2… each after `retryDelayMs(index)`.
      for (let index = 0; ; index++) {
        if (run.exhausted()) return { ended: 'gave-up' };
        await sleep(run.delay(index));
        if (!run.take()) return { ended: 'gave-up' };
        events.attempt();
        const attempt = await connect();
        if (attempt.ok) {
          run.opened();
          return { ended: 'open', attempt };
        }
        events.refused(attempt.outcome);
        if (attempt.code === 0) {
          // A failed ticket fetch (lifecycle.ts `failed`): its Retry-After is the next hint.
          run.failed(0, attempt.reason);
          run.hint(attempt.retryAfterMs);
        } else if (!onClose(attempt.code, attempt.reason)) return { ended: 'stopped' };
      }
    },
  };
}
