/**
 * Calling the app's callbacks from inside the client's reconnect logic, where a throw must not
 * land.
 *
 * @module
 */

/** Run an app callback; a throw is rethrown later, so it cannot break the reconnect logic. */
export function notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}
