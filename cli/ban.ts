/**
 * Telling a ban from a refusal, so that an audit reports its own ban as the defence it is. A
 * non-browser gets `403` with `Retry-After` (body `banned…`); a browser-looking handshake (an
 * allowed `Origin`) is accepted and closed with 4030 `banned until <ISO>`. Every probe a ban blocks
 * afterwards did not run: it did not fail.
 *
 * @module
 */
import type { Outcome } from './attempt.ts';

/** A ban seen on one attempt. */
export interface BanSeen {
  /** How long the ban lasts from now, when the server said (Retry-After or the close reason). */
  readonly seconds?: number;
  /** The answer that showed it. */
  readonly evidence: string;
}

function secondsUntil(iso: string, now: number): number | undefined {
  const end = Date.parse(iso);
  return Number.isFinite(end) ? Math.max(0, Math.round((end - now) / 1000)) : undefined;
}

function retryAfterSeconds(value: string, now: number): number | undefined {
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return secondsUntil(value, now);
}

/** The ban `o` shows, or `undefined` when it shows none. */
export function banOf(o: Outcome, now: number = Date.now()): BanSeen | undefined {
  if (o.closeCode === 4030) {
    const iso = /banned until (\S+)/i.exec(o.reason ?? '')?.[1];
    const seconds = iso !== undefined ? secondsUntil(iso, now) : undefined;
    return {
      ...(seconds !== undefined ? { seconds } : {}),
      evidence: `close 4030${o.reason ? ` (${o.reason})` : ''}`,
    };
  }
  if (o.status === 403 && (o.retryAfter !== undefined || /\bbanned\b/i.test(o.body ?? ''))) {
    const seconds = o.retryAfter !== undefined ? retryAfterSeconds(o.retryAfter, now) : undefined;
    return {
      ...(seconds !== undefined ? { seconds } : {}),
      evidence: `HTTP 403${o.retryAfter ? `, Retry-After: ${o.retryAfter}` : ''}${o.body ? `, body: ${o.body.slice(0, 80)}` : ''}`,
    };
  }
  return undefined;
}

/** Thrown by a probe's attempt when the server banned the probe's source address. */
export class BannedError extends Error {
  /** The ban. */
  readonly ban: BanSeen;
  constructor(ban: BanSeen) {
    super(`banned: ${ban.evidence}`);
    this.ban = ban;
  }
}
