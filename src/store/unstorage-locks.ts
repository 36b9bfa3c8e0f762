/**
 * Per-key serialisation for the unstorage store: unstorage's generic API is separate calls, so a
 * read-modify-write is made atomic within the process by running the operations on one key one
 * after another. The locks belong to the `Storage` object, so that two stores on it share them.
 *
 * @module
 */

/** Per-`Storage` locks, so that two stores on one `Storage` object serialise on the same keys. */
const LOCKS = new WeakMap<object, Map<string, Promise<void>>>();

/** The lock map of `storage`, created on first use. */
export function locksOf(storage: object): Map<string, Promise<void>> {
  let locks = LOCKS.get(storage);
  if (!locks) {
    locks = new Map();
    LOCKS.set(storage, locks);
  }
  return locks;
}

/**
 * Run `work` after every earlier operation on `key` has finished. The map holds a key only while
 * operations on it are pending: the last one out deletes it, so the map never grows with idle keys.
 */
export async function serialised<T>(
  locks: Map<string, Promise<void>>,
  key: string,
  work: () => Promise<T>,
): Promise<T> {
  const previous = locks.get(key);
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous ? previous.then(() => done) : done;
  locks.set(key, tail);
  try {
    if (previous) await previous;
    return await work();
  } finally {
    release();
    if (locks.get(key) === tail) locks.delete(key);
  }
}
