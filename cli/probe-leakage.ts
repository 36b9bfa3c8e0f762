/**
 * The leakage probe, which looks for stack traces, internal paths and secrets in replies, close
 * reasons and refusal bodies. It provokes a few errors, then reads everything every probe received.
 *
 * @module
 */
import type { Outcome } from './attempt.ts';
import { fail, type Probe, pass } from './probe.ts';

const PATTERNS: readonly [string, RegExp][] = [
  ['stack trace', /\bat [\w$.<>[\] ]+ \(?(?:file:\/\/)?[^\s()]+:\d+:\d+\)?/],
  [
    'internal path',
    /(?:\/(?:home|usr|var|srv|app|opt|Users)\/[\w.-]+\/|node_modules\/|[A-Z]:\\\\?[\w.-]+\\)/,
  ],
  ['private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  [
    'secret value',
    /["']?(?:password|passwd|secret|api[_-]?key|access[_-]?key)["']?\s*[:=]\s*["']?[^\s"',}]{6,}/i,
  ],
];

/** The first leak in `text`: what kind, and the matched snippet. */
export function findLeak(text: string): { kind: string; snippet: string } | undefined {
  for (const [kind, re] of PATTERNS) {
    const m = re.exec(text);
    if (m) return { kind, snippet: m[0].slice(0, 120) };
  }
  return undefined;
}

function textsOf(o: Outcome): string[] {
  return [...o.replies, o.reason ?? '', o.body ?? ''].filter((t) => t !== '');
}

const TRIGGERS = [
  '{',
  'null',
  '{"id":1,"method":"__wsguard_audit_unknown__","params":{}}',
  '{"type":{}}',
];

/** The leakage probe (runs last: it reads every outcome so far). */
export const LEAKAGE_PROBE: Probe = {
  id: 'leakage',
  check: 'leakage (stack traces, internal paths, secrets)',
  category: 'leakage',
  severity: 'medium',
  expected: 'short fixed error texts, nothing internal',
  fix: 'Answer with fixed error codes; log details server-side only.',
  runsWhenBanned: true,
  run: async (ctx) => {
    if (ctx.socketUrl && !ctx.banned)
      await ctx.attempt({
        url: ctx.socketUrl,
        origin: ctx.origin,
        waitMs: ctx.waitMs,
        send: (ws) => {
          for (const t of TRIGGERS) ws.send(t);
        },
        settleAfterFrames: TRIGGERS.length,
      });
    let texts = 0;
    for (const o of ctx.log)
      for (const t of textsOf(o)) {
        texts++;
        const leak = findLeak(t);
        if (leak) return fail(`${leak.kind} in a reply`, leak.snippet);
      }
    if (ctx.banned && texts === 0)
      return { verdict: 'not-run', observed: 'not run: banned before any reply could be read' };
    const partly = ctx.banned ? ' (from the probes before the ban; no errors provoked)' : '';
    return pass(`nothing internal in ${texts} replies, reasons and bodies${partly}`);
  },
};
