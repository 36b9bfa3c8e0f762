/**
 * The credential probes (an anonymous socket, forged, unsigned, wrong-key and expired tokens, a
 * guessed ticket). An anonymous socket must be refused, or closed at its auth deadline; its
 * outcome also tells the message probes whether the server hands out sockets without credentials.
 *
 * @module
 */
import { describe, type Outcome, refused, stayedOpen } from './attempt.ts';
import { unsignedToken, wrongKeyToken } from './forge.ts';
import { fail, type Judgement, type Probe, pass, skip, withParam } from './probe.ts';

const FIX_AUTH =
  'Require a credential on every socket (createGuard({ jwt } | { tickets })) and verify its signature.';

function judgeRefusal(o: Outcome, statuses: number[], codes: number[]): Judgement {
  if (refused(o, statuses, codes)) return pass(`refused: ${describe(o)}`);
  if (stayedOpen(o)) return fail(`accepted: ${describe(o)}`);
  if (o.opened && o.closeCode !== undefined) return pass(`closed: ${describe(o)}`);
  return pass(`not accepted: ${describe(o)}`);
}

function forged(id: string, check: string, credential: () => [string, string]): Probe {
  return {
    id,
    check,
    category: 'credentials',
    severity: 'high',
    expected: 'HTTP 401 or close 4001',
    fix: FIX_AUTH,
    run: async (ctx) => {
      const [key, value] = credential();
      const o = await ctx.attempt({
        url: withParam(ctx.url, key, value),
        origin: ctx.origin,
        waitMs: ctx.waitMs,
      });
      return judgeRefusal(o, [401], [4001]);
    },
  };
}

const anonymous: Probe = {
  id: 'credentials.missing',
  check: 'no credentials',
  category: 'credentials',
  severity: 'high',
  expected: 'HTTP 401 or close 4001 (first-message auth: closed within its timeout)',
  fix: FIX_AUTH,
  run: async (ctx) => {
    // First-message auth accepts, then closes at its deadline (wsguard: 5 s): watch that long.
    const o = await ctx.attempt({ url: ctx.url, origin: ctx.origin, waitMs: ctx.authWaitMs });
    ctx.anonymous = o;
    if (!ctx.token && stayedOpen(o)) ctx.socketUrl = ctx.url;
    return judgeRefusal(o, [401], [4001]);
  },
};

const idle: Probe = {
  id: 'credentials.idle',
  check: 'idle unauthenticated socket',
  category: 'credentials',
  severity: 'medium',
  expected: 'refused, or closed at the auth deadline',
  fix: 'Close a socket that has not authenticated within a few seconds (wsguard: auth.timeoutMs).',
  run: async (ctx) => {
    const o = ctx.anonymous;
    if (!o) return skip('the anonymous attempt did not run');
    if (stayedOpen(o)) return fail(`still open after ${o.ms} ms without a credential`);
    if (o.opened) return pass(`closed after ${o.ms} ms: ${describe(o)}`);
    return pass(`never opened: ${describe(o)}`);
  },
};

const expired: Probe = {
  id: 'credentials.expired',
  check: 'expired token',
  category: 'credentials',
  severity: 'high',
  expected: 'close 4002 (refresh) or HTTP 401 / close 4001',
  fix: 'Verify exp on every token (and close sockets when it passes).',
  run: async (ctx) => {
    if (!ctx.expiredToken)
      return skip(
        'needs --expired-token: an expired token can only be signed with the issuer key (the wrong-key probe covers forged ones)',
      );
    const o = await ctx.attempt({
      url: withParam(ctx.url, 'token', ctx.expiredToken),
      origin: ctx.origin,
      waitMs: ctx.waitMs,
    });
    return judgeRefusal(o, [401], [4001, 4002]);
  },
};

/** The credential probes, in order (the anonymous one first: others read its outcome). */
export const CREDENTIAL_PROBES: readonly Probe[] = [
  anonymous,
  idle,
  forged('credentials.malformed', 'malformed token', () => ['token', 'garbage']),
  forged('credentials.unsigned', 'unsigned token (alg: none)', () => ['token', unsignedToken()]),
  forged('credentials.wrong-key', 'token signed with a wrong key', () => [
    'token',
    wrongKeyToken(),
  ]),
  expired,
  forged('credentials.ticket', 'guessed ticket', () => ['ticket', 'A'.repeat(43)]),
];
