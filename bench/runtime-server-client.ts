/**
 * The driver's side of `bench/runtime-server.ts`'s HTTP routes and credentials, shared by the
 * benches that start it (`bench/runtimes.bench.ts`, `bench/handshake-wakeups.ts`).
 *
 * @module
 */
import { SignJWT } from 'jose';

let tokensSigned = 0;
/** A token for the bench user; each call's text differs (its `jti`), its claims otherwise not. */
export const benchToken = (secret: string): Promise<string> =>
  new SignJWT({ roles: ['user'], jti: String(++tokensSigned) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));

/** The server process's CPU time so far, µs (user + system, all threads). */
export const serverCpu = async (base: string): Promise<number> =>
  ((await (await fetch(`${base}/cpu`)).json()) as { cpuMicros: number }).cpuMicros;

/** `n` tickets for the bench user from the guarded server at `base` (10,000 a request at most). */
export async function issueTickets(base: string, n: number): Promise<string[]> {
  const tickets: string[] = [];
  while (tickets.length < n) {
    const want = Math.min(10_000, n - tickets.length);
    const res = await fetch(`${base}/tickets?n=${want}`, { method: 'POST' });
    tickets.push(...((await res.json()) as { tickets: string[] }).tickets);
  }
  return tickets;
}
