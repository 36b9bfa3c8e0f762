/**
 * The loop that sends a subscription's events, where the bridge's guarantees live: it yields to
 * the event loop once a run of sends has had its slice (one fast subscription cannot starve the
 * others), pauses while the client's buffer is over the high-water mark (and closes a client that
 * does not read in time), and stops at once when aborted: by the client, a re-authorization, or
 * the session's end.
 *
 * @module
 */
import { getTRPCErrorFromUnknown, isTrackedEnvelope } from '@trpc/server';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { CloseCode } from '../core/codes.ts';
import type { BridgeContext } from './bridge-context.ts';
import { macrotask } from './schedule.ts';
import { reportError, send, sendError } from './send.ts';
import { forget, type Session, type Subscription } from './session.ts';

const ABORTED = Symbol('aborted');

/** Wait until the client has read enough; false when it did not in time (then close 1013). */
async function drain(b: BridgeContext, s: Session, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + b.drainTimeoutMs;
  while ((s.socket.bufferedAmount ?? 0) > b.highWaterMark) {
    if (signal.aborted || !s.open) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/**
 * Send what the procedure returned (an observable or an async iterable) as the subscription's
 * events, `started` first and `stopped` last, until it ends or is aborted.
 */
export async function runSubscription(
  b: BridgeContext,
  s: Session,
  sub: Subscription,
  result: unknown,
): Promise<void> {
  const { id, jsonrpc, controller } = sub;
  const signal = controller.signal;
  const iterable = isObservable(result)
    ? observableToAsyncIterable(result, signal)
    : (result as AsyncIterable<unknown>);
  const iterator = iterable[Symbol.asyncIterator]();
  let wake: ((value: typeof ABORTED) => void) | undefined;
  const onAbort = (): void => wake?.(ABORTED);
  signal.addEventListener('abort', onAbort, { once: true });
  // Stopped or refused while its procedure set up: it never started, so it is not announced.
  if (!signal.aborted) send(b, s, { id, jsonrpc, result: { type: 'started' } });
  try {
    while (!signal.aborted) {
      // One fresh promise per event; the abort wakes it without piling reactions on a shared promise.
      const next = await new Promise<IteratorResult<unknown> | typeof ABORTED>(
        (resolve, reject) => {
          wake = resolve;
          iterator.next().then(resolve, reject);
        },
      );
      if (next === ABORTED || next.done) break;
      const value = next.value;
      if (isTrackedEnvelope(value)) {
        const [eventId, data] = value;
        send(b, s, {
          id,
          jsonrpc,
          result: { type: 'data', id: eventId, data: { id: eventId, data } },
        });
      } else {
        send(b, s, { id, jsonrpc, result: { type: 'data', data: value } });
      }
      if ((s.socket.bufferedAmount ?? 0) > b.highWaterMark) {
        if (!(await drain(b, s, signal))) {
          s.socket.close(CloseCode.TryAgainLater, 'client too slow');
          break;
        }
      } else if (b.shouldYield()) {
        await macrotask();
      }
    }
  } catch (cause) {
    if (!signal.aborted) sendError(b, s, id, jsonrpc, cause, 'subscription', sub.path, sub.input);
  } finally {
    signal.removeEventListener('abort', onAbort);
    controller.abort();
    forget(s, sub);
    try {
      await iterator.return?.();
    } catch (cause) {
      reportError(b, getTRPCErrorFromUnknown(cause), sub.path, 'subscription', s);
    }
  }
  if (!sub.forbidden) send(b, s, { id, jsonrpc, result: { type: 'stopped' } });
}
