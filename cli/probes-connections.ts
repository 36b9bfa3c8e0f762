/**
 * The connection-flood probes from one address (a burst of handshakes, many sockets held at
 * once), each bounded in count (40 / 60) and time, each from a fresh `--source` address if any.
 *
 * @module
 */
import { describe, type Outcome, refused } from './attempt.ts';
import { fail, type Probe, pass, skip } from './probe.ts';

const LIMITED_STATUSES = [429, 503];
const LIMITED_CODES = [4008, 4029, 1013];
/** Connection attempts in the rate probe. */
export const RATE_ATTEMPTS = 40;
/** Sockets held at once in the cap probe. */
export const HELD_SOCKETS = 60;

const limited = (o: Outcome): boolean => refused(o, LIMITED_STATUSES, LIMITED_CODES);

const rate: Probe = {
  id: 'connections.rate',
  check: `connection rate (${RATE_ATTEMPTS} handshakes in a row)`,
  category: 'connections',
  severity: 'medium',
  expected: 'HTTP 429 (or close 4029) within the burst',
  fix: 'Rate-limit handshakes per address (wsguard: limits.connectRate, 10 per 10 s, burst 20).',
  run: async (ctx) => {
    ctx.freshSource();
    const started = performance.now();
    for (let i = 1; i <= RATE_ATTEMPTS; i++) {
      const o = await ctx.attempt({
        url: ctx.authed(ctx.url),
        origin: ctx.origin,
        waitMs: ctx.waitMs,
        settleOnOpen: true,
      });
      if (limited(o)) return pass(`limited at attempt ${i}: ${describe(o)}`);
    }
    const ms = Math.round(performance.now() - started);
    return fail(`${RATE_ATTEMPTS} handshakes in ${ms} ms, none limited`);
  },
};

const caps: Probe = {
  id: 'connections.per-address',
  check: `connections per address (${HELD_SOCKETS} held at once)`,
  category: 'connections',
  severity: 'medium',
  expected: 'close 4008 (or HTTP 429) before all are open',
  fix: 'Cap open sockets per address and per user (wsguard: limits.maxPerIp 20, maxPerUser 10).',
  run: async (ctx) => {
    if (!ctx.socketUrl) return skip('needs a socket: give --token');
    ctx.freshSource();
    const all = await Promise.all(
      Array.from({ length: HELD_SOCKETS }, () =>
        ctx.attempt({ url: ctx.socketUrl!, origin: ctx.origin, waitMs: ctx.waitMs }),
      ),
    );
    const refusedOnes = all.filter(limited);
    const open = all.filter((o) => o.opened && o.closeCode === undefined).length;
    if (refusedOnes.length > 0 && refusedOnes.every((o) => o.status === 429))
      return pass(
        `limited by the connection rate first (${open} held, ${refusedOnes.length} refused: HTTP 429); the cap itself not reached`,
      );
    if (refusedOnes.length > 0)
      return pass(`${open} held, ${refusedOnes.length} refused: ${describe(refusedOnes[0]!)}`);
    return fail(`${open} of ${HELD_SOCKETS} sockets held open at once, none refused`);
  },
};

/** The connection probes, in order (last: they spend the address's handshake budget). */
export const CONNECTION_PROBES: readonly Probe[] = [rate, caps];
