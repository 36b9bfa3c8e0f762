/**
 * Turn-taking with the event loop: how a run of subscription sends yields so one fast
 * subscription cannot starve other connections, at the cost of microseconds per yield.
 *
 * @module
 */

/**
 * Run `fn` on a later turn of the event loop, after pending I/O. `setImmediate` where the runtime
 * has it (Node, Bun, Deno): a 0 ms timer is clamped to 1 ms or more (4 ms once nested, in Deno),
 * time a burst would sit idle on every slice and another client would wait on every yield.
 */
const nextTurn: (fn: () => void) => void = (() => {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return typeof immediate === 'function'
    ? (fn: () => void) => {
        immediate(fn);
      }
    : (fn: () => void) => {
        setTimeout(fn, 0);
      };
})();

/**
 * Fairness: a run of sends that has lasted `sliceMs` since the last turn of the event loop yields
 * to it. A marker resets the slice whenever the loop turns, so sparse events never wait.
 */
export function createSlicer(sliceMs: number): () => boolean {
  let start: number | undefined;
  const reset = (): void => {
    start = undefined;
  };
  return () => {
    const t = performance.now();
    if (start === undefined) {
      start = t;
      nextTurn(reset);
      return false;
    }
    return t - start >= sliceMs;
  };
}

/** A promise that settles on a later turn of the event loop (see {@link nextTurn}). */
export const macrotask: () => Promise<void> = (): Promise<void> =>
  new Promise((resolve) => nextTurn(resolve));
