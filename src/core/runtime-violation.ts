/**
 * Frames the runtime refuses before the guard sees them. Node (`ws`, `maxPayload`) and Bun
 * (`maxPayloadLength`) close an oversized frame from its header, and every runtime ends a
 * connection whose frame breaks RFC 6455 (RSV bits, invalid UTF-8 in a text frame; an unmasked
 * client frame on Node and Bun, Deno accepts those) on its own. The client's attack is the same as one the guard refuses itself, so it must leave the same
 * trace: an audit event, a counter, penalty points. Each adapter knows how its runtime reports
 * such a close and translates it into a {@link RuntimeViolation}; the hooks hand it to
 * `guard.violation`.
 *
 * @module
 */
import type { Peer } from 'crossws';

/** A frame the runtime refused itself, as an adapter recognised it. */
export interface RuntimeViolation {
  /** `too_big`: over the size limit; `protocol`: the frame broke the WebSocket protocol. */
  readonly reason: 'too_big' | 'protocol';
  /**
   * The close code the runtime sent: 1009 (too big), 1008 (too many fragments), 1007 (invalid
   * UTF-8), 1002 (any other broken frame); 1006 where it sends none (Deno drops the connection).
   */
  readonly closeCode: number;
}

/** How an adapter's runtime reports its own refusals; each hook answers `undefined` for anything else. */
export interface RuntimeViolationSignals {
  /** From the `error` hook (Node: `ws` reports a refused frame as an error, then closes). */
  readonly fromError?: (error: unknown) => RuntimeViolation | undefined;
  /** From the `close` hook's code and reason (Bun: 1006 with the refusal in the reason). */
  readonly fromClose?: (code: number, reason: string) => RuntimeViolation | undefined;
  /**
   * For runtimes whose report does not reach the hooks intact (Deno: the error event's message is
   * lost in crossws's `WSError`): called once when a socket opens, to watch it and `report` a
   * refusal before the close hook runs.
   */
  readonly watch?: (peer: Peer, report: (violation: RuntimeViolation) => void) => void;
}
