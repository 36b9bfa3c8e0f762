/**
 * What a runtime is known to do that the soak would otherwise count against the guard, each with
 * its evidence (docs/soak.md, "What each runtime keeps"). Explicit and printed, never a silent pass:
 * anything not listed here fails the run.
 *
 * @module
 */
import type { Runtime } from './server-process.ts';

/** A runtime's known behaviours. */
export interface RuntimeProfile {
  /**
   * Kinds of client whose objects the runtime itself keeps reachable after every counter is back
   * to zero, and why. The final wait does not wait for them; their count is reported.
   */
  readonly lingering: Readonly<Record<string, string>>;
  /** Outcomes an attack may also end with on this runtime, and why. */
  readonly allow: Readonly<
    Record<string, { readonly outcomes: readonly string[]; readonly why: string }>
  >;
}

/** The profiles. */
export const PROFILES: Readonly<Record<Runtime, RuntimeProfile>> = {
  node: { lingering: {}, allow: {} },
  // Bun keeps the objects of a socket whose client never answered the close frame until the
  // hooks' close timer cuts it (5 s): the final wait covers that.
  bun: { lingering: {}, allow: {} },
  deno: {
    lingering: {
      'reset-mid-handshake':
        'Deno keeps, for ever, a request answered with Deno.upgradeWebSocket whose client reset ' +
        'before the 101 was written (bench/soak/deno-upgrade-leak.ts reproduces it without wsguard)',
    },
    // Deno also keeps a WebSocket whose client vanished without a close handshake until its idle
    // timeout pings it out (measured: freed between 5 and 8 s with idleTimeout 5): the soak's
    // servers run with a short idle timeout, and the final wait covers it.
    allow: {
      'bad-utf8': {
        outcomes: ['no-close-frame'],
        why: 'Deno fails a connection on invalid UTF-8 without a close frame (adapters/deno.ts)',
      },
    },
  },
};
