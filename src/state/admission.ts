/**
 * Admission of an identity on a connection, the same at the handshake, at first-message
 * authentication and at an in-band refresh: the user's ban, path binding, caps. `closed` and the
 * bans seen meanwhile are re-checked after every await, and leases taken by a refused admission
 * are released, so a socket that closed mid-way leaves nothing behind.
 *
 * @module
 */
import type { Principal } from '../auth/principal.ts';
import type { BanWatch } from './ban-watch.ts';
import type { Caps } from './caps.ts';
import { type ConnectionState, enterPhase } from './connection.ts';
import type { GuardContext } from './context.ts';
import type { Deadlines } from './deadlines.ts';
import type { Penalties } from './penalties.ts';

/** Why {@link Admission.admit} refused an identity. */
export type Refusal =
  | { readonly reason: 'banned'; readonly until: number }
  | { readonly reason: 'path_mismatch' | 'ip_cap' | 'user_cap' | 'closed' };
const CLOSED: Refusal = { reason: 'closed' };
const noop = (): void => {};

/** Admitting identities onto connections. */
export interface Admission {
  /**
   * Admit `principal` on `c`: `takeIp` at the handshake (the IP lease is taken with the user's);
   * `since` is the ban sequence taken before the caller's own store reads.
   */
  admit(
    c: ConnectionState,
    principal: Principal,
    takeIp: boolean,
    since: number,
  ): Promise<Refusal | undefined>;
  /** Make `principal` the identity of live connection `c` (after `admit`). */
  join(c: ConnectionState, principal: Principal): void;
}

/** The admission of one guard. */
export function createAdmission(
  ctx: GuardContext,
  parts: { bans: Penalties; watch: BanWatch; caps: Caps; deadlines: Deadlines },
): Admission {
  const { audit, stats, registry, settings } = ctx;
  const { dryRun, pathBinding } = settings;
  const { bans, watch, caps, deadlines } = parts;
  const recheck = recheckOf(dryRun, watch, caps);
  return {
    async admit(c, principal, takeIp, since) {
      const sub = principal.sub;
      const mismatch = pathBinding !== undefined && pathParam(pathBinding, c.path) !== sub;
      const newUser = c.principal?.sub !== sub;
      // No lease for a refusal known in process; none needed for an identity already held.
      const leases = !mismatch && (newUser || takeIp);
      const held = c.leases.length;
      // The user's ban and the leases in one round trip (a banned user's leases are given back
      // below), each step awaited into a variable of its own: no Promise.allSettled and its
      // arrays on every handshake. With single sessions the ban comes first: an eviction cannot
      // be given back.
      const inTurn = leases && settings.singleSession && !dryRun;
      const banStep = bans.bannedUntil('user', sub);
      const capStep =
        leases && !inTurn ? caps.acquire(c, newUser ? sub : undefined, takeIp) : undefined;
      capStep?.catch(noop); // read after the ban: a rejection meanwhile is not unhandled
      let until: number | undefined;
      try {
        until = await banStep;
      } catch (error) {
        // What the caps granted meanwhile is given back (a failed acquire gave back its own).
        if (capStep) await capStep.then(() => caps.releaseSince(c, held), noop);
        throw error;
      }
      const capped = capStep === undefined ? undefined : await capStep;
      if (until !== undefined && dryRun && !c.closed)
        audit({ type: 'limit.exceeded', ip: c.ip, userId: sub, reason: 'banned', dryRun });
      // In the contract's order: the first refusal that applies is the answer.
      let refusal: Refusal | undefined;
      if (c.closed) refusal = CLOSED;
      else if (until !== undefined && !dryRun) refusal = { reason: 'banned', until };
      else if (mismatch) refusal = { reason: 'path_mismatch' };
      else if (capped !== undefined) refusal = { reason: capped };
      if (refusal) {
        await caps.releaseSince(c, held);
        return refusal;
      }
      if (inTurn) {
        const late = await caps.acquire(c, newUser ? sub : undefined, takeIp);
        if (late) return { reason: late };
      }
      return leases ? recheck(c, sub, since, held) : undefined;
    },
    join(c, principal) {
      const previous = c.principal?.sub;
      c.principal = principal;
      c.expiresAt = principal.expiresAt;
      c.authDeadline = undefined;
      enterPhase(c, 'live');
      if (previous !== principal.sub) {
        stats.userJoined(principal.sub);
        registry.addUser(principal.sub);
      }
      deadlines.arm(c);
    },
  };
}

/**
 * After the leases: a close, or a ban seen since `since`, gives back what `c` took. Not async:
 * the usual answer (nothing to give back) is `undefined` at once, without a promise.
 */
function recheckOf(dryRun: boolean, watch: BanWatch, caps: Caps) {
  return (
    c: ConnectionState,
    sub: string,
    since: number,
    held: number,
  ): Refusal | undefined | Promise<Refusal | undefined> => {
    const late = dryRun ? undefined : watch.knownBan(c, sub, since);
    if (c.closed || late !== undefined) {
      // The socket closed, or a ban arrived, while the leases were taken: give them back.
      return caps
        .releaseSince(c, held)
        .then(() =>
          late !== undefined && !c.closed ? { reason: 'banned' as const, until: late } : CLOSED,
        );
    }
    return undefined;
  };
}

/** Match `/ws/:sub`-style routes; returns the parameter value or `undefined`. */
export function pathParam(pattern: string, path: string): string | undefined {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  let value: string | undefined;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(':')) {
      try {
        value = decodeURIComponent(s[i]!);
      } catch {
        return undefined;
      }
    } else if (seg !== s[i]) return undefined;
  }
  return value;
}
