/**
 * Graceful shutdown, in three steps the adapters take: refuse new handshakes ({@link stop}), wait
 * for the open sockets to close ({@link drained}), then cut the rest ({@link terminateAll}).
 *
 * @module
 */
import { CloseCode } from '../core/codes.ts';
import type { HooksContext } from './context.ts';

/** Refuse new handshakes with 503 from now on. */
export function stop(ctx: HooksContext): void {
  ctx.stopped = true;
}

/** Resolves `true` once no socket is open, or `false` after `timeoutMs`. */
export function drained(ctx: HooksContext, timeoutMs: number): Promise<boolean> {
  if (ctx.live.size === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      ctx.idle.delete(onIdle);
      resolve(ok);
    };
    const onIdle = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    ctx.idle.add(onIdle);
  });
}

/** Cut every open socket without a close handshake (end of a graceful shutdown). */
export function terminateAll(ctx: HooksContext): void {
  for (const s of ctx.live) {
    // The end of a shutdown: the guard's close, not the app's (terminate is wrapped).
    s.closeCode ??= CloseCode.GoingAway;
    s.closing = true;
    try {
      s.peer?.terminate();
    } catch {
      // Already gone.
    }
  }
}
