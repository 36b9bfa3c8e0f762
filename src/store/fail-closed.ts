/**
 * Fail closed: every failure of a store (a rejection, a synchronous throw, an odd reply) surfaces
 * as {@link StoreUnavailableError}, which the guard answers with 1013 / 503 rather than letting a
 * limit pass unchecked.
 *
 * @module
 */
import { type GuardError, isGuardError, StoreUnavailableError } from '../core/errors.ts';
import type { Store } from './contract.ts';

/** Wrap a store so any failure surfaces as {@link StoreUnavailableError}. */
export function failClosed(store: Store): Store {
  const unavailable = (error: unknown): GuardError =>
    isGuardError(error)
      ? error
      : new StoreUnavailableError(`store "${store.name}" failed`, { cause: error });
  const reject = (error: unknown): never => {
    throw unavailable(error);
  };
  // Not an async function: one `then` per call instead of an async frame and an await, on a
  // path every handshake takes five or six times. A synchronous throw is caught the same way.
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      try {
        // Promise.resolve: a store that answers a plain value or an odd thenable still gets a
        // real promise (a native promise passes through unchanged, at no cost).
        return Promise.resolve(fn(...args)).then(undefined, reject);
      } catch (error) {
        return Promise.reject(unavailable(error));
      }
    };
  return {
    name: store.name,
    shared: store.shared,
    set: wrap(store.set.bind(store)),
    get: wrap(store.get.bind(store)),
    delete: wrap(store.delete.bind(store)),
    take: wrap(store.take.bind(store)),
    limit: wrap(store.limit.bind(store)),
    acquireLease: wrap(store.acquireLease.bind(store)),
    renewLeases: wrap(store.renewLeases.bind(store)),
    releaseLease: wrap(store.releaseLease.bind(store)),
    countLeases: wrap(store.countLeases.bind(store)),
    addScore: wrap(store.addScore.bind(store)),
    ...(store.takeWithTtl ? { takeWithTtl: wrap(store.takeWithTtl.bind(store)) } : {}),
    ...(store.publish ? { publish: wrap(store.publish.bind(store)) } : {}),
    // Synchronous, and its failures are the listener's resync: not wrapped.
    ...(store.subscribe ? { subscribe: store.subscribe.bind(store) } : {}),
  };
}
