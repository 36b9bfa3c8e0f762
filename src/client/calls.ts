/**
 * The gate in front of a tRPC WebSocket client's calls. tRPC's `close()` only turns reconnects
 * off until the next call: `request()` opens a socket again (fetching a ticket first), which
 * would undo a server's "stop" at the user's next click. So, while the guarded client is stopped,
 * a call fails at once and never reaches tRPC.
 *
 * @module
 */
import { TRPCClientError, type TRPCWebSocketClient } from '@trpc/client';

/**
 * Gate `client`'s calls: while `stopped()` returns an error, every new call (query, mutation,
 * subscription) fails at once with it. Returns a function that ends every call still in flight
 * with an error (unsubscribed from tRPC first, so tRPC neither sends nor retries it).
 */
export function gateCalls(
  client: TRPCWebSocketClient,
  stopped: () => Error | undefined,
): (error: Error) => void {
  const request = client.request.bind(client);
  const live = new Set<{ fail: (error: Error) => void }>();
  client.request = (args) => {
    const inner = request(args);
    const subscribe = inner.subscribe;
    // Replaced on the observable itself, so `pipe()` (which subscribes through it) is gated too.
    inner.subscribe = (observer) => {
      const error = stopped();
      if (error) {
        observer.error?.(TRPCClientError.from(error));
        return { unsubscribe() {} };
      }
      let sub: { unsubscribe(): void } | undefined;
      // Once ended, tRPC's own callbacks are ignored: unsubscribing completes its request, and
      // the caller must see the stop's error, not an empty completion.
      let done = false;
      const end = (): void => {
        done = true;
        live.delete(call);
      };
      const call = {
        fail(e: Error) {
          if (done) return;
          end();
          sub?.unsubscribe();
          observer.error?.(TRPCClientError.from(e));
        },
      };
      live.add(call);
      sub = subscribe({
        next: (value) => {
          if (!done) observer.next?.(value);
        },
        error: (e) => {
          if (done) return;
          end();
          observer.error?.(e);
        },
        complete: () => {
          if (done) return;
          end();
          observer.complete?.();
        },
      });
      return {
        unsubscribe() {
          end();
          sub?.unsubscribe();
        },
      };
    };
    return inner;
  };
  return (error) => {
    for (const call of [...live]) call.fail(error);
  };
}
