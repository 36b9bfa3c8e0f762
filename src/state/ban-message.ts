/**
 * The control channel's message: a ban or an unban, carried between the guards on one store.
 * Anyone who can PUBLISH on the store can send one, so a message is only a hint: the receiver
 * confirms it with the store before closing anything.
 *
 * @module
 */
import { MAX_DATE_MS } from '../core/ban-reason.ts';
import type { Subject } from './penalties.ts';

/** The channel every guard on one store listens to: bans reach every instance. */
export const CONTROL_CHANNEL = 'control';

/** A ban as carried on the control channel. */
export interface BanMessage {
  readonly v: 1;
  readonly from: string;
  /** `unban`: forget the ban (`until` is 0). */
  readonly kind: 'ban' | 'unban';
  readonly subject: Subject;
  readonly id: string;
  readonly until: number;
}

/** A control message, or `undefined` for anything that is not one of ours (ignored). */
export function parseBanMessage(text: string): BanMessage | undefined {
  if (text.length > 4096) return undefined;
  try {
    const m = JSON.parse(text) as Partial<BanMessage> | null;
    if (
      m &&
      m.v === 1 &&
      (m.kind === 'ban' || m.kind === 'unban') &&
      (m.subject === 'ip' || m.subject === 'user') &&
      typeof m.id === 'string' &&
      typeof m.from === 'string' &&
      typeof m.until === 'number' &&
      Math.abs(m.until) <= MAX_DATE_MS
    )
      return m as BanMessage;
  } catch {
    // Not ours: ignored.
  }
  return undefined;
}
