/**
 * The soak's connect/authenticate/close cycles: a fixed rotation of 20 kinds, 11 good and 9
 * hostile, each from its own address pool (see `plan.ts`). A cycle resolves with its outcome;
 * `ALLOWED` lists the outcomes each kind may end with, so the driver can tell a workload that did
 * what it claims (good clients served, hostile ones refused the expected way) from one that did not.
 *
 * The hostile kinds and the race each one aims at:
 * - `forged`, `garbage`, `expired`: refused credentials (4001, 4001, 4002); penalties, then bans;
 * - `foreign-origin`: 403 before any stateful step;
 * - `replayed-ticket`: a ticket used once (served), then again from another address (4001);
 * - `reset-mid-handshake`: the request is written and the TCP connection reset while the guard
 *   awaits a slow `principal` hook;
 * - `closed-mid-auth`: first-message auth, and the socket reset or closed while the credential is
 *   verified (slow hook again);
 * - `silent-pending`: first-message auth never sent: the guard's deadline closes it (4001); runs
 *   in the background, so its 500 ms do not hold a worker;
 * - `reset-after-open`: a valid handshake, then a reset instead of a close frame.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { handshake, readFrames, sendHandshake } from '../../tests/runtimes/raw.ts';
import { fetchTicket, type SessionOptions, session, type Tokens } from './clients.ts';
import { FOREIGN_ORIGIN, IPS, SOAK_ORIGIN, USERS } from './plan.ts';

/** A kind of cycle. */
export type CycleKind =
  | 'jwt-header'
  | 'jwt-query'
  | 'jwt-slow'
  | 'ticket'
  | 'first-message'
  | 'forged'
  | 'garbage'
  | 'expired'
  | 'foreign-origin'
  | 'replayed-ticket'
  | 'reset-mid-handshake'
  | 'closed-mid-auth'
  | 'silent-pending'
  | 'reset-after-open';

/** The rotation: cycle `i` is of kind `ROTATION[i % 20]`. */
export const ROTATION: readonly CycleKind[] = [
  'jwt-header',
  'ticket',
  'forged',
  'jwt-header',
  'first-message',
  'garbage',
  'ticket',
  'reset-mid-handshake',
  'jwt-query',
  'expired',
  'jwt-slow',
  'closed-mid-auth',
  'ticket',
  'foreign-origin',
  'jwt-header',
  'replayed-ticket',
  'first-message',
  'silent-pending',
  'jwt-header',
  'reset-after-open',
];

/** The kinds a well-behaved client makes: each must end `ok`, always. */
export const GOOD: ReadonlySet<CycleKind> = new Set<CycleKind>([
  'jwt-header',
  'jwt-query',
  'jwt-slow',
  'ticket',
  'first-message',
]);

// A banned address's handshake that carries an allowed Origin is accepted and closed with 4030.
const BANNED = 'close:4030';

/** Outcomes each hostile kind may end with (good kinds: only `ok`). */
export const ALLOWED: Readonly<Record<CycleKind, readonly string[]>> = {
  'jwt-header': ['ok'],
  'jwt-query': ['ok'],
  'jwt-slow': ['ok'],
  ticket: ['ok'],
  'first-message': ['ok'],
  forged: ['close:4001', BANNED],
  garbage: ['close:4001', BANNED],
  expired: ['close:4002', BANNED],
  'foreign-origin': ['http:403'],
  // The first use is a good client's (from a good address): it must be served.
  'replayed-ticket': ['ok+close:4001', `ok+${BANNED}`],
  'reset-mid-handshake': ['reset'],
  'closed-mid-auth': ['left', BANNED],
  'silent-pending': ['close:4001', BANNED],
  'reset-after-open': ['reset', BANNED],
};

/** What a cycle needs. */
export interface CycleContext {
  /** `http://127.0.0.1:PORT`. */
  readonly base: string;
  readonly tokens: Tokens;
  /** Work that outlives the cycle (silent sockets waiting for their deadline). */
  readonly background: Set<Promise<unknown>>;
  /** Record a background outcome. */
  readonly record: (kind: CycleKind, outcome: string) => void;
}

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
/** The handshake URL; `k` names the kind, so the server can tell what each object it keeps was. */
const ws = (base: string, kind: CycleKind, query = '') =>
  `${base.replace(/^http/, 'ws')}/ws?k=${kind}${query}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, origin: SOAK_ORIGIN });
const reset = (socket: Socket): void => {
  socket.resetAndDestroy();
};

/** Run cycle `i`; resolves with its outcome (`undefined` for one that finishes in the background). */
export async function runCycle(i: number, ctx: CycleContext): Promise<string | undefined> {
  const kind = pick(ROTATION, i);
  const good = pick(IPS.good, i);
  const hostile = pick(IPS.hostile, i);
  // The rotation puts kind k at i ≡ k (mod 20). Good users: index 27·turn + k covers every user for
  // each kind (27 and the list's 500 are coprime), so one user fetches a ticket a few times a run
  // (the ticket endpoint allows 60 a minute per user), and the 16 cycles in flight at once are 16
  // different users (far from the cap of 10 each). The short lists are picked by the turn.
  const turn = Math.floor(i / ROTATION.length);
  const user = pick(USERS.good, 27 * turn + (i % ROTATION.length));
  const slow = pick(USERS.slow, turn);
  const { base, tokens } = ctx;
  const at = (localAddress: string, headers: Record<string, string>, url = ws(base, kind)) =>
    ({ url, localAddress, headers }) satisfies SessionOptions;
  switch (kind) {
    case 'jwt-header':
      return session(at(good, bearer(tokens.valid(user))), { chats: 1 });
    case 'jwt-slow':
      return session(at(good, bearer(tokens.valid(slow))), { chats: 1 });
    case 'jwt-query': {
      const url = ws(base, kind, `&token=${tokens.valid(user)}`);
      return session(at(good, { origin: SOAK_ORIGIN }, url), { chats: 1 });
    }
    case 'ticket': {
      const ticket = await fetchTicket(base, tokens.valid(user));
      return session(at(good, { origin: SOAK_ORIGIN }, ws(base, kind, `&ticket=${ticket}`)), {
        chats: 1,
      });
    }
    case 'first-message':
      return session(at(good, { origin: SOAK_ORIGIN }), {
        authToken: tokens.valid(user),
        chats: 1,
      });
    case 'forged':
      return session(at(hostile, bearer(tokens.forged)), { chats: 1 });
    case 'garbage':
      return session(at(hostile, bearer(`x${i}.y.z`)), { chats: 1 });
    case 'expired':
      return session(at(hostile, bearer(tokens.expired)), { chats: 1 });
    case 'foreign-origin':
      return session(at(hostile, { ...bearer(tokens.valid(user)), origin: FOREIGN_ORIGIN }), {
        chats: 1,
      });
    case 'replayed-ticket': {
      const ticket = await fetchTicket(base, tokens.valid(user));
      const url = ws(base, kind, `&ticket=${ticket}`);
      const first = await session(at(good, { origin: SOAK_ORIGIN }, url), { chats: 1 });
      const second = await session(at(hostile, { origin: SOAK_ORIGIN }, url), { chats: 1 });
      return `${first}+${second}`;
    }
    case 'reset-mid-handshake': {
      const token = tokens.valid(slow);
      const socket = await sendHandshake({
        url: ws(base, kind),
        headers: bearer(token),
        localAddress: hostile,
      });
      // Somewhere inside the slow hook's 10 ms, or before the guard even looked.
      await new Promise((r) => setTimeout(r, i % 7));
      reset(socket);
      return 'reset';
    }
    case 'closed-mid-auth':
      return session(at(hostile, { origin: SOAK_ORIGIN }), {
        authToken: tokens.valid(slow),
        leaveAfterAuth: i % 2 === 0 ? 'terminate' : 'close',
      });
    case 'silent-pending': {
      const h = await handshake({
        url: ws(base, kind),
        headers: { origin: SOAK_ORIGIN },
        localAddress: hostile,
      });
      if (h.status !== 101) {
        h.socket.destroy();
        return `http:${h.status}`;
      }
      const waiting = readFrames(h.socket, h.rest, 5000).then((r) => {
        h.socket.destroy();
        ctx.record(kind, r.closeCode !== undefined ? `close:${r.closeCode}` : 'no-close');
      });
      ctx.background.add(waiting);
      waiting.finally(() => ctx.background.delete(waiting));
      return undefined;
    }
    case 'reset-after-open': {
      const token = tokens.valid(pick(USERS.mallory, turn));
      const h = await handshake({
        url: ws(base, kind),
        headers: bearer(token),
        localAddress: hostile,
      });
      if (h.status !== 101) {
        h.socket.destroy();
        return `http:${h.status}`;
      }
      // A banned address is told so in a close frame right after the 101.
      const early = h.rest.length >= 4 && (h.rest[0]! & 0x0f) === 8 ? h.rest.readUInt16BE(2) : 0;
      reset(h.socket);
      return early ? `close:${early}` : 'reset';
    }
  }
}
