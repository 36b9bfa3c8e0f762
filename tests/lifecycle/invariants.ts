/**
 * The invariants checked after every step, once the world has settled:
 *
 * - a banned IP or user has no open socket and no connection in either guard past the
 *   propagation bound (polled until it holds or the bound has passed, so a fix costs no waiting);
 * - each guard's `connections()` and `stats()` gauges equal the sockets it still holds, with the
 *   principal the model expects;
 * - the leases in the store equal the held sockets (plus at most the ones an outage may have left
 *   behind), and no IP or user holds more sockets than its cap;
 * - no socket outlives its credential or its auth deadline;
 * - a score at the threshold has a ban in force;
 * - nothing escaped: no throw into the runtime, no internal error reported.
 */
import { IP_CAP, IPS, keyOf, PROPAGATION_MS, TIMER_SLACK_MS, USER_CAP, USERS } from './config.ts';
import type { Ban, Model } from './model.ts';
import type { World } from './world.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stages whose reports mean the guard failed internally (store outages report elsewhere). */
const INTERNAL_STAGES = new Set(['upgrade', 'message', 'hook', 'audit']);

/** Connections (open sockets or guard entries) a ban in force should have ended. */
function banned(world: World, model: Model): { ban: Ban; what: string }[] {
  const found: { ban: Ban; what: string }[] = [];
  for (const m of model.open()) {
    const b = model.ban('ip', m.key) ?? model.ban('user', m.user);
    if (b) found.push({ ban: b, what: `socket #${m.n} (instance ${m.instance}) is open` });
  }
  for (const [i, g] of world.guards.entries()) {
    for (const c of g.connections()) {
      const b = model.ban('ip', keyOf(c.ip)) ?? model.ban('user', c.principal?.sub);
      if (b) found.push({ ban: b, what: `guard ${i} still holds connection ${c.id}` });
    }
  }
  return found;
}

/** Wait (bounded by the propagation bound) for bans to take effect; report those that did not. */
async function bansHold(world: World, model: Model, out: string[]): Promise<void> {
  const bound = PROPAGATION_MS[world.kind];
  for (let i = 0; i < 1000; i++) {
    const left = banned(world, model);
    if (left.length === 0) return;
    const now = Date.now();
    if (left.every((l) => now - l.ban.since > bound + TIMER_SLACK_MS)) {
      for (const l of left)
        out.push(
          `${l.ban.source} ban of ${l.ban.subject} ${l.ban.id} ${now - l.ban.since} ms ago, ` +
            `past the ${bound} ms bound: ${l.what}`,
        );
      return;
    }
    await sleep(10);
    await world.settle();
  }
}

/** Each guard's own view against the sockets it should hold. */
function gauges(world: World, model: Model, out: string[]): void {
  for (const [i, g] of world.guards.entries()) {
    const held = model.held().filter((m) => m.instance === i);
    const ids = new Set(held.map((m) => world.socks[m.n]!.conn.id));
    const live = [...g.connections()];
    for (const c of live) {
      if (!ids.has(c.id)) {
        out.push(`guard ${i} holds connection ${c.id}, which the model does not`);
        continue;
      }
      const m = held.find((h) => world.socks[h.n]!.conn.id === c.id)!;
      if (c.principal?.sub !== m.user)
        out.push(`socket #${m.n}: guard says user ${c.principal?.sub}, model says ${m.user}`);
    }
    if (live.length !== held.length)
      out.push(`guard ${i} holds ${live.length} connections, model ${held.length}`);
    const s = g.stats();
    if (s.connections !== held.length)
      out.push(`guard ${i} stats.connections ${s.connections}, model ${held.length}`);
    const users = new Set(held.flatMap((m) => (m.user ? [m.user] : []))).size;
    if (s.users !== users) out.push(`guard ${i} stats.users ${s.users}, model ${users}`);
  }
}

/** Leases in the store against the held sockets; caps against the open ones. */
async function leases(world: World, model: Model, out: string[]): Promise<void> {
  const sets = [
    ...[...new Set(IPS.map(keyOf))].map((key) => ({
      k: `lease:ip:${key}`,
      of: (m: { key: string }) => m.key === key,
    })),
    ...USERS.map((u) => ({
      k: `lease:user:${u}`,
      of: (m: { user: string | undefined }) => m.user === u,
    })),
  ];
  // Read, then judge against the sockets as they were around the read: if a socket ended while
  // the counts were read, read again (bounded).
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = model.held().length;
    const counts = await Promise.all(sets.map((s) => world.countLeases(s.k)));
    if (model.held().length !== before) continue;
    const found: string[] = [];
    for (const [j, s] of sets.entries()) {
      const expected = model.held().filter(s.of).length;
      const extra = model.leaked.get(s.k) ?? 0;
      const n = counts[j]!;
      if (n < expected || n > expected + extra)
        found.push(
          `${s.k}: ${n} leases in the store, model ${expected}${extra ? ` (+${extra} maybe left by an outage)` : ''}`,
        );
    }
    out.push(...found);
    break;
  }
  for (const key of new Set(IPS.map(keyOf))) {
    const n = model.open().filter((m) => m.key === key).length;
    if (n > IP_CAP) out.push(`${n} open sockets from ${key}, over the cap of ${IP_CAP}`);
  }
  for (const u of USERS) {
    const n = model.open().filter((m) => m.user === u).length;
    if (n > USER_CAP) out.push(`${n} open sockets of ${u}, over the cap of ${USER_CAP}`);
  }
}

/** Deadlines: no socket outlives its credential or its auth deadline. */
function deadlines(model: Model, out: string[]): void {
  const now = Date.now();
  for (const m of model.open()) {
    if (m.expiresAt !== undefined && now > m.expiresAt + TIMER_SLACK_MS)
      out.push(`socket #${m.n} open ${now - m.expiresAt} ms after its credential expired`);
    if (m.pending && m.authDeadline && now > m.authDeadline[1] + TIMER_SLACK_MS)
      out.push(`socket #${m.n} pending ${now - m.authDeadline[1]} ms past its auth deadline`);
  }
}

/** Every invariant; returns what broke. */
export async function checkInvariants(world: World, model: Model): Promise<string[]> {
  const out: string[] = [];
  await world.settle();
  await bansHold(world, model, out);
  gauges(world, model, out);
  await leases(world, model, out);
  deadlines(model, out);
  for (const [k, at] of model.mustBan)
    out.push(`score of ${k} reached the threshold ${Date.now() - at} ms ago and no ban started`);
  for (const e of world.errors)
    if (INTERNAL_STAGES.has(e.stage))
      out.push(`guard ${e.instance} reported an internal error (${e.stage}): ${String(e.error)}`);
  out.push(...world.problems);
  return out;
}
