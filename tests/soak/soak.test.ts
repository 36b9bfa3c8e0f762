/**
 * The soak, short form (the long form is `npm run soak`, see docs/soak.md). On each runtime, a real
 * soak server process (`bench/soak/soak-server.ts`: one guard, full checks, the runtime's wsguard
 * adapter) and the driver (`bench/soak/driver.ts`): after 750 warm-up cycles and 37,500 frames,
 * 1,000 connect/authenticate/close cycles and 50,000 frames from good clients (JWT in the header or
 * the query, tickets, first-message auth, long-lived streams) and hostile ones (forged, garbage
 * and expired tokens, foreign origins, replayed tickets, resets mid-handshake and after open,
 * sockets closed mid-auth, silent sockets; floods, oversized, malformed, too deep, forbidden keys,
 * schema failures, invalid UTF-8, truncated frames, ping bursts), from several loopback address
 * pools, with a memory sample after a forced GC in each round.
 *
 * Asserted (bench/soak/checks.ts): connections, users, app sockets and leases back to zero; no
 * connection or peer object reachable after a full GC beyond what the runtime itself keeps
 * (bench/soak/known.ts: listed and printed, bounded by the cycles that made them); every client
 * ended the way its kind allows and every good stream frame was echoed; heap, native and RSS growth
 * from the second quarter of the rounds to the last under bounds justified there.
 *
 * The servers run with a 2 s idle timeout: Deno keeps a socket whose client vanished until then.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ROW_HEADER, row } from '../../bench/soak/analysis.ts';
import { checks, SHORT_BOUNDS } from '../../bench/soak/checks.ts';
import { type SoakResult, soak } from '../../bench/soak/driver.ts';
import { PROFILES } from '../../bench/soak/known.ts';
import { SHORT } from '../../bench/soak/plan.ts';
import { RUNTIMES, startSoakServer } from '../../bench/soak/server-process.ts';

describe('soak, short form', () => {
  const rows: string[] = [];
  afterAll(() => {
    if (rows.length > 0) console.info(`[soak]\n${[ROW_HEADER, ...rows].join('\n')}`);
  });

  for (const runtime of RUNTIMES) {
    it(`${runtime}: counters, caps and leases back to zero, nothing kept, memory flat`, async () => {
      const profile = PROFILES[runtime];
      const server = await startSoakServer(runtime, { SOAK_IDLE_TIMEOUT: '2' });
      let result: SoakResult;
      try {
        result = await soak(runtime, server.url, SHORT, {
          lingering: Object.keys(profile.lingering),
          allow: profile.allow,
          settleMs: 15_000,
        });
      } finally {
        await server.stop();
      }
      rows.push(row(result));
      for (const [kind, why] of Object.entries(profile.lingering))
        console.info(
          `[soak:${runtime}] kept by the runtime: ${kind} ×${result.final.retainedByKind[kind] ?? 0} (${why})`,
        );
      for (const [attack, { outcomes, why }] of Object.entries(profile.allow))
        console.info(`[soak:${runtime}] ${attack} may end ${outcomes.join(', ')} (${why})`);

      // The workload did what it claims: every good client served, the hostile ones refused.
      expect(result.cycles.done).toBe(result.totals.cycles);
      expect(result.frames.sent).toBeGreaterThanOrEqual(result.totals.frames);
      expect(result.frames.echoed).toBe(result.frames.good);
      expect(result.unexpected).toEqual([]);
      expect(result.streamFailures).toEqual([]);
      // Back to zero.
      expect(result.final.connections).toBe(0);
      expect(result.final.users).toBe(0);
      expect(result.final.appOpen).toBe(0);
      expect(result.final.leases).toEqual({ ip: 0, user: 0, keys: [] });
      // Everything else, memory included, with its detail on failure.
      const verdict = checks(result, profile, SHORT_BOUNDS[runtime]);
      expect(verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
    }, 40_000);
  }
});
