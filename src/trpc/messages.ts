/**
 * A frame the guard delivered, dispatched: the `PING`/`PONG` keep-alive, the `connectionParams`
 * message a client announced, or a call or batch of calls. A batch is bounded (`maxBatchSize`)
 * and charged one unit of the guard's message rate per call; each of its calls then runs on its
 * own, so one slow call does not hold up the others.
 *
 * @module
 */
import { getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import { CloseCode } from '../core/codes.ts';
import type { BridgeContext } from './bridge-context.ts';
import { handleCall } from './call.ts';
import { parseConnectionParamsFromUnknown } from './internals.ts';
import { refuseParsed } from './refuse-calls.ts';
import { reportError, sendError } from './send.ts';
import type { Session } from './session.ts';

/** Read the `connectionParams` message the client announced; a malformed one closes (1008). */
function acceptConnectionParams(b: BridgeContext, s: Session, value: unknown): void {
  s.waitingForParams = false;
  try {
    const m = value as { method?: unknown; data?: unknown } | null;
    if (typeof m !== 'object' || m === null || m.method !== 'connectionParams')
      throw new Error('expected connectionParams');
    s.connectionParams = parseConnectionParamsFromUnknown(m.data) as Record<string, string> | null;
  } catch (cause) {
    sendError(
      b,
      s,
      null,
      undefined,
      new TRPCError({ code: 'PARSE_ERROR', message: 'malformed connectionParams', cause }),
    );
    s.socket.close(CloseCode.PolicyViolation, 'malformed connectionParams');
  }
}

/** Handle a frame the guard delivered (see `TRPCBridge.message`). */
export function handleMessage(
  b: BridgeContext,
  s: Session,
  value: unknown,
  bytes: number | undefined,
): void {
  if (!s.open) return;
  if (value === 'PING') {
    s.socket.send('PONG');
    return;
  }
  if (value === 'PONG') return;
  if (s.waitingForParams) {
    acceptConnectionParams(b, s, value);
    return;
  }
  const calls = Array.isArray(value) ? value : [value];
  const { maxBatchSize } = b;
  if (calls.length > maxBatchSize) {
    refuseParsed(
      b,
      s,
      calls,
      value,
      bytes,
      new TRPCError({
        code: 'BAD_REQUEST',
        message: `batch too large (${calls.length} calls; at most ${maxBatchSize})`,
      }),
    );
    return;
  }
  // The guard charged the frame once; a batch of N calls costs N.
  if (calls.length > 1) {
    const refused = b.guard.consume(s.connection, calls.length - 1);
    if (refused) {
      refuseParsed(
        b,
        s,
        calls,
        value,
        bytes,
        new TRPCError({
          code: 'TOO_MANY_REQUESTS',
          message: `rate limit exceeded; retry in ${refused.retryAfterMs} ms`,
        }),
      );
      return;
    }
  }
  for (let i = 0; i < calls.length; i++) {
    handleCall(b, s, calls[i], i).catch((cause) =>
      reportError(b, getTRPCErrorFromUnknown(cause), undefined, 'unknown', s),
    );
  }
}
