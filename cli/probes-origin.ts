/**
 * The origin probes, against cross-site WebSocket hijacking (a page on another site opening a
 * socket with its visitor's cookies). Foreign, look-alike, `null` and downgraded origins must be
 * refused; a missing Origin (a non-browser client, which can forge any header) is reported, not
 * judged.
 *
 * @module
 */
import { describe, type Outcome, refused, stayedOpen } from './attempt.ts';
import { fail, type Judgement, type Probe, type ProbeContext, pass, skip } from './probe.ts';

const FIX =
  'Allow only your own origins (createGuard({ origins: [...] })): compare scheme, host and port exactly.';

/** Judge one hostile-origin attempt. */
function judgeOrigin(ctx: ProbeContext, o: Outcome): Judgement {
  if (refused(o, [403], [4003])) return pass(`refused: ${describe(o)}`);
  if (!ctx.token && refused(o, [401], [4001]))
    return skip(
      `refused for missing credentials (${describe(o)}): origin check not reached; give --token`,
    );
  if (o.opened || o.status === 101) return fail(`accepted: ${describe(o)}`);
  return pass(`not accepted: ${describe(o)}`);
}

function originProbe(id: string, check: string, origin: (ctx: ProbeContext) => string): Probe {
  return {
    id,
    check,
    category: 'origin',
    severity: 'high',
    expected: 'HTTP 403 or close 4003',
    fix: FIX,
    run: async (ctx) =>
      judgeOrigin(
        ctx,
        await ctx.attempt({ url: ctx.authed(ctx.url), origin: origin(ctx), waitMs: ctx.waitMs }),
      ),
  };
}

const downgrade: Probe = {
  id: 'origin.downgrade',
  check: 'scheme downgrade (http:// twin of the allowed origin)',
  category: 'origin',
  severity: 'medium',
  expected: 'HTTP 403 or close 4003',
  fix: 'Compare the scheme too: an http:// page can be injected into by anyone on the network.',
  run: async (ctx) => {
    if (!ctx.origin.startsWith('https://'))
      return skip(`the allowed origin ${ctx.origin} is not https://: nothing to downgrade`);
    const origin = ctx.origin.replace(/^https:/, 'http:');
    return judgeOrigin(
      ctx,
      await ctx.attempt({ url: ctx.authed(ctx.url), origin, waitMs: ctx.waitMs }),
    );
  },
};

const missing: Probe = {
  id: 'origin.missing',
  check: 'no Origin header (a non-browser client)',
  category: 'origin',
  severity: 'info',
  expected: 'either: only credentials protect here (any client can forge Origin)',
  fix: 'Nothing to fix: refusing a missing Origin protects nothing; require credentials.',
  run: async (ctx) => {
    const o = await ctx.attempt({ url: ctx.authed(ctx.url), waitMs: Math.min(ctx.waitMs, 1500) });
    return pass(`${stayedOpen(o) ? 'accepted' : 'not kept'}: ${describe(o)}`);
  },
};

/** The origin probes, in order. */
export const ORIGIN_PROBES: readonly Probe[] = [
  originProbe(
    'origin.foreign',
    'foreign Origin (cross-site WebSocket hijacking)',
    () => 'https://evil.example',
  ),
  originProbe(
    'origin.lookalike',
    'look-alike Origin (suffix trick)',
    (ctx) => `${ctx.origin}.evil.example`,
  ),
  originProbe('origin.null', 'Origin: null (sandboxed iframe)', () => 'null'),
  downgrade,
  missing,
];
