/**
 * The admin view's "try an attack" panel: real attacks from this browser against this demo, each
 * answered by the guard with its close code. They come from the admin's own address, and score
 * against it (and against the admin user, for those on a ticket): enough of them ban both, which
 * is the defence at work; `POST /admin/unban-me` lifts that ban.
 */

/** The attacks the panel offers. */
export type AttackName = 'forged' | 'replay' | 'flood' | 'oversized';

/** What one attack met. */
export interface AttackOutcome {
  readonly attack: AttackName;
  /** The close code the socket ended with (`null`: it stayed open until the deadline). */
  readonly code: number | null;
  readonly reason: string;
  /** The code the guard answers this attack with. */
  readonly expected: number;
}

/** What the attacks need from the page. */
export interface AttackContext {
  readonly wsUrl: string;
  /** A fresh one-time ticket for the logged-in user. */
  readonly getTicket: () => Promise<string>;
}

/** The code the guard answers each attack with, and a line saying what the attack does. */
export const ATTACKS: Readonly<Record<AttackName, { expected: number; label: string }>> = {
  forged: { expected: 4001, label: 'a socket with a forged admin token' },
  replay: { expected: 4001, label: 'a one-time ticket used twice' },
  flood: { expected: 4029, label: 'a flood of 400 frames at once' },
  oversized: { expected: 1009, label: 'one 128 KiB frame (the limit is 64 KiB)' },
};

const b64url = (s: string): string =>
  btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** A well-formed HS256 token claiming the admin role, signed with a key the server never had. */
function forgedToken(): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const exp = Math.floor(Date.now() / 1000) + 600;
  const body = b64url(JSON.stringify({ sub: 'admin', roles: ['admin'], iss: 'wsguard-demo', exp }));
  return `${head}.${body}.${b64url('not the server key, not the server signature')}`;
}

/** Open `url`, run `onOpen` once open, and resolve with how the socket ended (≤ 8 s). */
function socketEnd(
  url: string,
  onOpen: (ws: WebSocket) => void = () => {},
): Promise<{ code: number | null; reason: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      resolve({ code: null, reason: 'still open after 8 s' });
    }, 8000);
    ws.onopen = () => onOpen(ws);
    ws.onclose = (e) => {
      clearTimeout(timer);
      resolve({ code: e.code, reason: e.reason });
    };
  });
}

const withTicket = (wsUrl: string, ticket: string): string =>
  `${wsUrl}?ticket=${encodeURIComponent(ticket)}`;

/** Run one attack and say how the guard answered it. */
export async function runAttack(name: AttackName, ctx: AttackContext): Promise<AttackOutcome> {
  const expected = ATTACKS[name].expected;
  let end: { code: number | null; reason: string };
  if (name === 'forged') {
    end = await socketEnd(`${ctx.wsUrl}?token=${forgedToken()}`);
  } else if (name === 'replay') {
    const ticket = await ctx.getTicket();
    // First use: the honest one, closed by us at once.
    await socketEnd(withTicket(ctx.wsUrl, ticket), (ws) => ws.close(1000, 'done'));
    end = await socketEnd(withTicket(ctx.wsUrl, ticket));
  } else if (name === 'flood') {
    end = await socketEnd(withTicket(ctx.wsUrl, await ctx.getTicket()), (ws) => {
      for (let i = 0; i < 400 && ws.readyState === WebSocket.OPEN; i++) ws.send('PING');
    });
  } else {
    end = await socketEnd(withTicket(ctx.wsUrl, await ctx.getTicket()), (ws) =>
      ws.send('x'.repeat(128 * 1024)),
    );
  }
  return { attack: name, code: end.code, reason: end.reason, expected };
}
