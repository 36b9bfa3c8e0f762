/**
 * Every store operation settles in bounded time, and every failure is the same error: what lets
 * the guard fail closed fast, with a 503, when a store is down or stalled, instead of hanging a
 * handshake on a client's own timeouts (seconds).
 *
 * @module
 */
import { StoreUnavailableError } from '../core/errors.ts';

/**
 * Bound `work` by `timeoutMs` and map every failure to {@link StoreUnavailableError} (messages
 * `<label> timed out after <n> ms` and `<label> failed`). Shared by the store and the event feed,
 * so every Redis operation of wsguard fails closed the same way. The client's own promise may
 * settle after the timeout (a late reply, or ioredis flushing its queue); it is observed here so
 * that a late rejection never surfaces as unhandled.
 */
export function runBounded<T>(
  label: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new StoreUnavailableError(`${label} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) =>
        finish(() =>
          reject(
            error instanceof StoreUnavailableError
              ? error
              : new StoreUnavailableError(`${label} failed`, { cause: error }),
          ),
        ),
    );
  });
}
