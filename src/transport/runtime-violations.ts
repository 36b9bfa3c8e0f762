/**
 * Runtime refusals, the frames the runtime refused on its own before the guard saw them (over its
 * size limit, or breaking the protocol), as the adapter's `runtimeViolations` signals recognise
 * them. Each is handed to `guard.violation` once per socket, to be audited, counted and penalized like
 * the guard's own refusal.
 *
 * @module
 */
import type { Peer } from 'crossws';
import type { RuntimeViolation } from '../core/runtime-violation.ts';
import type { HooksContext } from './context.ts';
import type { PeerState } from './peer-state.ts';

/**
 * Record a frame the runtime refused on its own, once per socket, unless the guard was closing
 * it already (its own refusal is recorded where it was decided). A throwing classifier is
 * reported, never let out: the close hook must go on to release the connection.
 */
export function noteViolation(
  ctx: HooksContext,
  s: PeerState,
  classify: () => RuntimeViolation | undefined,
): void {
  if (s.violationCode !== undefined || s.closeCode !== undefined || s.closed) return;
  try {
    const v = classify();
    if (!v) return;
    s.violationCode = v.closeCode;
    ctx.guard.violation(s.connection, v);
  } catch (error) {
    ctx.report.hook(error);
  }
}

/** Let the adapter watch a socket that just opened, for runtimes whose hooks lose the report. */
export function watchViolations(ctx: HooksContext, s: PeerState, peer: Peer): void {
  const signals = ctx.signals;
  if (!signals?.watch) return;
  try {
    signals.watch(peer, (v) => noteViolation(ctx, s, () => v));
  } catch (error) {
    ctx.report.hook(error); // a watcher that fails only loses the attribution
  }
}
