/**
 * The app's hooks called so that a throw or a rejection closes the connection with 1011 and never
 * reaches the runtime.
 *
 * @module
 */
import { fail } from './close.ts';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';

/** Whether `v` is a promise (or looks like one): the app's hooks may return either. */
export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null | undefined)?.then === 'function';

/** Run an app hook; a throw or rejection closes the connection with 1011, else `then` runs. */
export function run(ctx: HooksContext, s: PeerState, call: () => unknown, then?: () => void): void {
  let r: unknown;
  try {
    r = call();
  } catch (error) {
    fail(ctx, s, error);
    return;
  }
  if (isThenable(r))
    r.then(
      () => then?.(),
      (error: unknown) => fail(ctx, s, error),
    );
  else then?.();
}
