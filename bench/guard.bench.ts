/**
 * The guard end to end, with its defaults (memory store, penalties, connection rate, IP and user
 * caps) and an audit sink that receives every event but writes nowhere, so the numbers are the
 * guard's decisions and not console I/O.
 *
 * - `guard.upgrade` with an HS256 JWT in `Authorization: Bearer`, and with a one-time ticket in
 *   `?ticket=`; each handshake comes from a new IP so the connection rate and IP cap never refuse.
 *   The `Request` objects are built, tickets issued and connections closed outside the timed part
 *   (an adapter builds the request; `close` runs when the socket ends). Reference: the JWT
 *   verification alone (`guard.verifyToken`), so the ratio is the handshake's cost beyond the
 *   signature check.
 * - `guard.message` on a 197-byte JSON chat frame from an authenticated connection, without and
 *   with a zod 4 schema, against `JSON.parse` of the same frame: the ratio is the guard's
 *   per-message overhead (size check, both rate limiters, the structural scan, the forbidden-key
 *   check, stats). The message budgets are set high enough that every frame is delivered: the
 *   limiters still run on every frame, but nothing is refused.
 *
 * @module
 */
import { SignJWT } from 'jose';
import { z } from 'zod';
import {
  createGuard,
  type Guard,
  type GuardConnection,
  type GuardOptions,
  parseFrame,
} from '../src/mod.ts';
import type { BenchCase, Comparison } from './harness.ts';
import { sink } from './harness.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const ORIGIN = 'https://app.example.com';
/** 197 bytes: a typical chat message. */
export const CHAT_FRAME: string = JSON.stringify({
  type: 'chat.send',
  id: '7f3c9a2e-4b1d-4e8a-9c6f-2d5b8e1a0c3f',
  room: 'general',
  text: 'Hello everyone! Has anyone tried the new release yet? The changelog looks great so far.',
  ts: 1718000000000,
});

const ChatMessage = z.object({
  type: z.literal('chat.send'),
  id: z.uuid(),
  room: z.string().min(1).max(64),
  text: z.string().min(1).max(2000),
  ts: z.number().int().nonnegative(),
});

function token(sub: string): Promise<string> {
  return new SignJWT({ roles: ['user'], scope: 'chat.read chat.send' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET));
}

function makeGuard(extra: Partial<GuardOptions> = {}): Guard {
  return createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    tickets: true,
    audit: () => {},
    ...extra,
  });
}

/** A fresh IPv4 address per handshake, so per-IP rates and caps never refuse. */
function ipSource(): () => string {
  let n = 0;
  return () => {
    n = (n + 1) % 0xfffffe;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
}

/** Upgrade cases share this shape: build inputs untimed, time the upgrades, close untimed. */
function upgradeCase(
  name: string,
  guard: Guard,
  requests: (n: number) => Promise<Request[]> | Request[],
): BenchCase {
  const nextIp = ipSource();
  let inputs: { request: Request; ip: string }[] = [];
  const opened: GuardConnection[] = [];
  let refused = 0;
  let accepted = 0;
  return {
    name,
    async before(n) {
      inputs = (await requests(n)).map((request) => ({ request, ip: nextIp() }));
    },
    async run(n) {
      for (let i = 0; i < n; i++) {
        const d = await guard.upgrade(inputs[i]!);
        if (d.ok) {
          opened.push(d.connection);
          accepted++;
        } else refused++;
      }
    },
    async after() {
      for (const c of opened) await guard.close(c);
      opened.length = 0;
    },
    verify() {
      if (refused > 0 || accepted === 0) throw new Error(`${name}: ${refused} handshakes refused`);
    },
  };
}

/** Distinct users, so the per-user cap (10 by default) never refuses within a chunk. */
const USERS = 4096;

async function upgradeComparison(): Promise<Comparison> {
  const guard = makeGuard();
  await guard.ready();
  const bearers = await Promise.all(Array.from({ length: USERS }, (_, i) => token(`user-${i}`)));
  const principals = await Promise.all(bearers.map((b) => guard.verifyToken(b)));
  const jwtRequests = bearers.map(
    (bearer) =>
      new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${bearer}`, 'user-agent': 'bench/1.0' },
      }),
  );
  const bearer = bearers[0]!;
  let nextJwt = 0;
  let nextTicket = 0;
  let verified = 0;
  return {
    title: 'Guard handshakes',
    baseline: 'guard.verifyToken (HS256 verification alone)',
    cases: [
      upgradeCase('guard.upgrade, HS256 JWT in Authorization header', guard, (n) =>
        Array.from({ length: n }, () => jwtRequests[nextJwt++ % USERS]!),
      ),
      upgradeCase('guard.upgrade, one-time ticket in ?ticket=', guard, async (n) => {
        const out: Request[] = [];
        for (let i = 0; i < n; i++) {
          const principal = principals[nextTicket++ % USERS]!;
          const t = await guard.issueTicket(principal, { origin: ORIGIN });
          out.push(
            new Request(`http://localhost/ws?ticket=${t.ticket}`, {
              headers: { origin: ORIGIN, 'user-agent': 'bench/1.0' },
            }),
          );
        }
        return out;
      }),
      {
        name: 'guard.verifyToken (HS256 verification alone)',
        async run(n) {
          for (let i = 0; i < n; i++) if ((await guard.verifyToken(bearer)).sub) verified++;
        },
        verify() {
          if (verified === 0) throw new Error('verifyToken never succeeded');
        },
      },
    ],
  };
}

async function connect(guard: Guard): Promise<GuardConnection> {
  const d = await guard.upgrade({
    request: new Request('http://localhost/ws', {
      headers: { origin: ORIGIN, authorization: `Bearer ${await token('user-7')}` },
    }),
    ip: '192.0.2.1',
  });
  if (!d.ok) throw new Error(`bench connection refused: ${d.reason}`);
  return d.connection;
}

function messageCase(name: string, guard: Guard, connection: GuardConnection): BenchCase {
  let delivered = 0;
  let other = 0;
  return {
    name,
    run(n) {
      for (let i = 0; i < n; i++) {
        const d = guard.message(connection, CHAT_FRAME);
        if (d instanceof Promise) throw new Error(`${name}: unexpected async decision`);
        if (d.action === 'deliver') delivered++;
        else other++;
      }
    },
    verify() {
      if (other > 0 || delivered === 0) throw new Error(`${name}: ${other} frames not delivered`);
    },
  };
}

async function messageComparison(): Promise<Comparison> {
  // High budgets: the limiters run on every frame, but a benchmark's flood is not refused.
  const limits = {
    messageRate: { limit: 1_000_000, windowMs: 1000, burst: 1_000_000_000 },
    userMessageRate: { limit: 1_000_000, windowMs: 1000, burst: 1_000_000_000 },
  };
  const plain = makeGuard({ limits });
  const schema = makeGuard({ limits, messages: { schema: ChatMessage } });
  const plainConnection = await connect(plain);
  const schemaConnection = await connect(schema);
  let parsed = 0;
  return {
    title: 'Guard messages (197-byte JSON chat frame)',
    baseline: 'JSON.parse',
    cases: [
      {
        name: 'JSON.parse',
        run(n) {
          for (let i = 0; i < n; i++) sink.value = JSON.parse(CHAT_FRAME);
          parsed += n;
        },
      },
      {
        name: 'parseFrame (size, scan, parse, forbidden keys)',
        run(n) {
          for (let i = 0; i < n; i++) {
            const r = parseFrame(CHAT_FRAME, 65536, 32, 1000);
            if (!r.ok) throw new Error('parseFrame refused the chat frame');
            sink.value = r.value;
          }
        },
        verify() {
          if (parsed === 0) throw new Error('JSON.parse never ran');
        },
      },
      messageCase('guard.message, no schema', plain, plainConnection),
      messageCase('guard.message, zod schema', schema, schemaConnection),
    ],
  };
}

/** The guard comparisons. */
export async function guardComparisons(): Promise<Comparison[]> {
  return [await upgradeComparison(), await messageComparison()];
}
