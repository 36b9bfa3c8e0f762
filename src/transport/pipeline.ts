/**
 * The narrow pipeline interface, the members of the {@link Guard} the crossws hooks call and no
 * others. The hooks are written against this, so what they can reach of the guard is visible in
 * one line and a test can drive them with a stub that has only these.
 *
 * @module
 */
import type { Guard } from '../guard/types.ts';

/** What the hooks use of a guard: the decisions, the release, and the close wiring. */
export type GuardPipeline = Pick<Guard, 'upgrade' | 'message' | 'close' | 'attach' | 'violation'>;
