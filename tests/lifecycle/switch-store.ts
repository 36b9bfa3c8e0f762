/**
 * A store seen through a switch: every method is forwarded (those the test does not know of too,
 * such as a pub/sub a store may grow), operations in flight are counted so the test can tell when
 * the guard's background work has settled, and while the switch is down every call throws, the
 * way a memory store never would. The guard sees a store that is not its own memory store, so it
 * wraps it fail-closed: that wrapper is exercised too.
 */
import type { Store } from '../../src/mod.ts';

/** The switch's state, shared by every store seen through it. */
export interface StoreSwitch {
  /** While true, every call but `close` throws (memory only; Redis goes down through a proxy). */
  down: boolean;
  /** Store operations started and not yet settled. */
  inflight: number;
}

/** The error a switched-off store throws. */
export class StoreDownError extends Error {
  override readonly name = 'StoreDownError';
}

/** `inner` behind the switch `state`. */
export function switched(inner: Store, state: StoreSwitch, failWhenDown: boolean): Store {
  const done = (): void => {
    state.inflight--;
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (failWhenDown && state.down && prop !== 'close')
          throw new StoreDownError(`store down (test): ${String(prop)}`);
        const r: unknown = value.apply(target, args);
        if (r instanceof Promise) {
          state.inflight++;
          // Observed on both paths, never re-thrown: the caller keeps its own promise.
          r.then(done, done);
        }
        return r;
      };
    },
  });
}
