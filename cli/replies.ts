/**
 * Reading a reply by its meaning, an error frame (refused, the socket stays) or an echo or app
 * answer (the payload got through).
 *
 * @module
 */

/** Whether `text` reads as an error frame: `{ error }`, `{ type: 'error' }`, `{ ok: false }`. */
export function isErrorReply(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if ('error' in o || 'errors' in o || o.type === 'error' || o.ok === false) return true;
    }
  } catch {
    // Not JSON: read the words.
  }
  return /\b(error|invalid|refused|denied|too (deep|big|large|many)|rate|forbidden)\b/i.test(
    text.slice(0, 200),
  );
}

/** Whether the replies say the message was refused. */
export function anyError(replies: readonly string[]): boolean {
  return replies.some(isErrorReply);
}
