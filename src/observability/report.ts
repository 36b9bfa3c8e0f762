/**
 * Background failures: where they happened, and the one wrapper that hands them to the app's
 * `onError` without ever throwing back into the guard.
 *
 * @module
 */

/** Where a background failure happened. */
export type ErrorStage =
  | 'upgrade'
  | 'message'
  | 'close'
  | 'audit'
  | 'store'
  | 'lease-renewal'
  | 'hook';

/** A reporter for one stage: call it with the error. Never throws. */
export type Reporter = (stage: ErrorStage) => (error: unknown) => void;

/**
 * Wrap the app's `onError` (default: `console.error`). An error handler that throws must not take
 * the server down, so its own throws are swallowed.
 */
export function createReporter(
  onError: ((error: unknown, context: { stage: ErrorStage }) => void) | undefined,
): Reporter {
  const handler =
    onError ??
    ((error: unknown, context: { stage: ErrorStage }) => {
      console.error(`[wsguard] ${context.stage}:`, error);
    });
  return (stage) => (error) => {
    try {
      handler(error, { stage });
    } catch {
      // Swallowed: see above.
    }
  };
}
