/**
 * The guard's own CPU per handshake, in process: `guard.upgrade` then `guard.close`, no sockets,
 * with the options of `bench/runtime-server.ts` (every check on, budgets that never refuse), and
 * the verifier's cache of verified tokens on (its default) beside off, rounds interleaved:
 *
 * ```sh
 * npx tsx bench/handshake-cpu.ts                    # ticket, JWT reused, JWT new each time
 * BENCH_ROUNDS=20 npx tsx bench/handshake-cpu.ts
 * ```
 *
 * Each round builds its 5,000 requests (and issues the tickets, signs the new tokens) untimed,
 * then reads `process.cpuUsage()` around the handshakes alone, one at a time, each from a new
 * 127.x address. A round that a major collection lands in reads high: read the medians. (Forcing
 * a collection before each round is worse: the code after it runs about twice as slow.) The first two rounds warm up and are left out of the medians. Bounded:
 * `BENCH_ROUNDS` (default 8) × 6 cases × 5,000 handshakes.
 *
 * @module
 */
import { SignJWT } from 'jose';
import { createGuard, type Guard } from '../src/mod.ts';
import { FULL_CHECK_LIMITS } from './full-check-limits.ts';
import { nextAddress } from './socket-clients.ts';

const SECRET = 'bench-handshake-cpu-secret-0123456789-abcdefgh';
const KEY = new TextEncoder().encode(SECRET);
const N = 5000;
const ROUNDS = Math.max(3, Number(process.env['BENCH_ROUNDS'] ?? 8));

const guardWith = (cache: number | false): Guard =>
  createGuard({
    origins: ['https://bench.example'],
    jwt: { algorithms: ['HS256'], secret: SECRET, cache },
    tickets: true,
    credentials: { header: true, ticket: true },
    limits: FULL_CHECK_LIMITS,
    audit: false,
  });

let signed = 0;
const token = (): Promise<string> =>
  new SignJWT({ roles: ['user'], jti: String(++signed) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(KEY);

const HANDSHAKE = {
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
};
type Mode = 'ticket' | 'JWT reused' | 'JWT new each time';
const reused = await token();

async function requests(guard: Guard, mode: Mode): Promise<Request[]> {
  const out: Request[] = [];
  for (let i = 0; i < N; i++) {
    if (mode === 'ticket') {
      const { ticket } = await guard.issueTicket({
        sub: 'bench',
        roles: ['user'],
        permissions: [],
      });
      out.push(new Request(`http://localhost/?ticket=${ticket}`, { headers: HANDSHAKE }));
    } else {
      const bearer = mode === 'JWT reused' ? reused : await token();
      out.push(
        new Request('http://localhost/', {
          headers: { ...HANDSHAKE, authorization: `Bearer ${bearer}` },
        }),
      );
    }
  }
  return out;
}

/** CPU µs per handshake (upgrade + close) of one round. */
async function round(guard: Guard, mode: Mode): Promise<number> {
  const batch = await requests(guard, mode);
  const start = process.cpuUsage();
  for (const request of batch) {
    const d = await guard.upgrade({ request, ip: nextAddress() });
    if (!d.ok) throw new Error(`${mode}: refused (${d.reason})`);
    await guard.close(d.connection);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const guards = { 'cache on': guardWith(1000), 'cache off': guardWith(false) };
await Promise.all(Object.values(guards).map((g) => g.ready()));
const modes: Mode[] = ['ticket', 'JWT reused', 'JWT new each time'];
const results = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of modes) {
    // Which side goes first alternates: the first of a pair reads a little high.
    const sides = Object.entries(guards);
    for (const [name, guard] of r % 2 === 0 ? sides : sides.reverse()) {
      const key = `${mode}, ${name}`;
      const us = await round(guard, mode);
      if (r >= 2) results.set(key, [...(results.get(key) ?? []), us]);
    }
  }
}
console.log(
  `### Guard CPU per handshake in process (${ROUNDS - 2} rounds × ${N}, after 2 warm-up)\n`,
);
console.log('| case | µs per upgrade + close (median) | range |\n| --- | ---: | ---: |');
for (const [key, xs] of results) {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  console.log(
    `| ${key} | ${median.toFixed(2)} | ${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)} |`,
  );
}
for (const g of Object.values(guards)) await g.shutdown('bench done');
