/**
 * One-time tickets: issued and redeemed once, replay and guessing refused, expiry with a fake
 * clock (4002, not 4001), lifetime rules, IP and origin binding, and storage under a hash only.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Accept,
  type AuditEvent,
  CredentialError,
  createGuard,
  createMemoryStore,
  createTickets,
  DEFAULT_TICKET_TTL_MS,
  type Guard,
  GuardConfigError,
  GuardError,
  type GuardOptions,
  MAX_TICKET_TTL_MS,
  type Principal,
  type Reject,
  type Store,
  type TicketOptions,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';
const OTHER = 'https://other.example.com';
const T0 = 1_700_000_000_000;
const ALICE: Principal = { sub: 'alice', roles: ['user'], permissions: [] };

interface Setup {
  guard: Guard;
  clock: { t: number };
  store: Store;
}

function ticketGuard(
  tickets: TicketOptions | true = true,
  extra: Partial<GuardOptions> = {},
): Setup {
  const clock = { t: T0 };
  const now = () => clock.t;
  const store = createMemoryStore({ now });
  const guard = createGuard({
    origins: [APP, OTHER],
    tickets,
    store,
    now,
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    ...extra,
  });
  return { guard, clock, store };
}

function redeemAt(
  guard: Guard,
  ticket: string,
  { origin = APP, ip = '198.51.100.20' }: { origin?: string | null; ip?: string } = {},
): Promise<Accept | Reject> {
  const headers: Record<string, string> = {};
  if (origin !== null) headers['origin'] = origin;
  return guard.upgrade({
    request: new Request(`http://localhost/ws?ticket=${encodeURIComponent(ticket)}`, { headers }),
    ip,
  });
}

function expectAccepted(d: Accept | Reject, sub = 'alice'): Accept {
  if (!d.ok) throw new Error(`expected acceptance, got ${d.reason}`);
  expect(d.connection.principal?.sub).toBe(sub);
  return d;
}

function expectRejected(d: Accept | Reject, reason: 'credentials_invalid' | 'expired'): void {
  expect(d.ok).toBe(false);
  if (d.ok) return;
  expect(d.reason).toBe(reason);
  expect(d.closeCode).toBe(reason === 'expired' ? 4002 : 4001);
  expect(d.status).toBe(401);
  expect(d.mode).toBe('close');
}

/** A store that records every key and value written, to inspect what a dump would show. */
function recordingStore(inner: Store): { store: Store; writes: [string, string][] } {
  const writes: [string, string][] = [];
  const store: Store = {
    name: 'recording',
    shared: inner.shared,
    set: (k, v, ttl) => {
      writes.push([k, v]);
      return inner.set(k, v, ttl);
    },
    get: (k) => inner.get(k),
    delete: (k) => inner.delete(k),
    take: (k) => inner.take(k),
    limit: (k, r, c) => inner.limit(k, r, c),
    acquireLease: (k, id, max, ttl, o) => inner.acquireLease(k, id, max, ttl, o),
    renewLeases: (k, ids, ttl) => inner.renewLeases(k, ids, ttl),
    releaseLease: (k, id) => inner.releaseLease(k, id),
    countLeases: (k) => inner.countLeases(k),
    addScore: (k, p, h) => inner.addScore(k, p, h),
  };
  return { store, writes };
}

describe('issue and redeem once', () => {
  it('issues a 43-character base64url ticket that opens one connection as its principal', async () => {
    const { guard } = ticketGuard();
    const issued = await guard.issueTicket(ALICE, { origin: APP });
    expect(issued.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const d = expectAccepted(await redeemAt(guard, issued.ticket));
    expect(d.connection.principal?.roles).toEqual(['user']);
  });

  it('refuses a replayed ticket with 4001', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    expectAccepted(await redeemAt(guard, ticket));
    expectRejected(await redeemAt(guard, ticket), 'credentials_invalid');
    expectRejected(await redeemAt(guard, ticket), 'credentials_invalid');
  });

  it('refuses a replay from another address and origin too', async () => {
    const { guard } = ticketGuard({ bindOrigin: false });
    const { ticket } = await guard.issueTicket(ALICE);
    expectAccepted(await redeemAt(guard, ticket));
    expectRejected(
      await redeemAt(guard, ticket, { ip: '203.0.113.99', origin: OTHER }),
      'credentials_invalid',
    );
  });

  it('issues distinct tickets each time', async () => {
    const { guard } = ticketGuard();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add((await guard.issueTicket(ALICE)).ticket);
    expect(seen.size).toBe(200);
  });

  it('redeems through createTickets directly, once', async () => {
    const tickets = createTickets(createMemoryStore());
    const { ticket } = await tickets.issue(ALICE);
    expect((await tickets.redeem(ticket)).sub).toBe('alice');
    await expect(tickets.redeem(ticket)).rejects.toBeInstanceOf(CredentialError);
  });

  it('a redeemed ticket keeps its principal expiry for the connection', async () => {
    const { guard, clock } = ticketGuard();
    const principal = { ...ALICE, expiresAt: clock.t + 60_000 };
    const { ticket } = await guard.issueTicket(principal, { origin: APP });
    const d = expectAccepted(await redeemAt(guard, ticket));
    expect(d.connection.expiresAt).toBe(clock.t + 60_000);
  });

  it('refuses to issue when tickets are not enabled', async () => {
    const g = createGuard({
      origins: [APP],
      jwt: { algorithms: ['HS256'], secret: 's'.repeat(40) },
      audit: false,
    });
    await expect(g.issueTicket(ALICE)).rejects.toBeInstanceOf(GuardConfigError);
  });
});

describe('guessing', () => {
  it('refuses random well-formed 43-character tickets', async () => {
    const { guard } = ticketGuard();
    await guard.issueTicket(ALICE, { origin: APP }); // a live ticket exists; guesses still miss
    for (let i = 0; i < 50; i++) {
      const guess = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
      expect(guess).toHaveLength(43);
      expectRejected(await redeemAt(guard, guess), 'credentials_invalid');
    }
  });

  it('refuses malformed tickets', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    const malformed = [
      'a',
      'A'.repeat(42),
      'A'.repeat(44),
      `${ticket}=`,
      `${ticket.slice(0, 42)}=`,
      `${ticket.slice(0, 42)}+`,
      `${ticket.slice(0, 42)}/`,
      ` ${ticket.slice(1)}`,
      `${ticket}\n`,
      ticket.toUpperCase() === ticket ? ticket.toLowerCase() : ticket.toUpperCase(),
      `${ticket.slice(0, 21)}.${ticket.slice(22)}`,
      '../../../../../etc/passwd',
      "' OR 1=1 --",
      '__proto__',
      '*',
      'A'.repeat(8192),
      'A'.repeat(10_000),
    ];
    for (const m of malformed) expectRejected(await redeemAt(guard, m), 'credentials_invalid');
    // None of the attempts consumed the genuine ticket.
    expectAccepted(await redeemAt(guard, ticket));
  });

  it('refuses the stored hash presented as a ticket', async () => {
    const { store, writes } = recordingStore(createMemoryStore());
    const tickets = createTickets(store);
    await tickets.issue(ALICE);
    const [key] = writes[0]!;
    for (const candidate of [
      key,
      key.slice('ticket:'.length),
      Buffer.from(key.slice(7), 'hex').toString('base64url'),
    ]) {
      await expect(tickets.redeem(candidate)).rejects.toBeInstanceOf(CredentialError);
    }
  });
});

describe('expiry', () => {
  it('refuses a ticket past its lifetime with 4002 expired, not 4001', async () => {
    const { guard, clock } = ticketGuard();
    const { ticket, expiresAt } = await guard.issueTicket(ALICE, { origin: APP });
    expect(expiresAt).toBe(T0 + DEFAULT_TICKET_TTL_MS);
    clock.t = expiresAt;
    expectRejected(await redeemAt(guard, ticket), 'expired');
  });

  it('accepts a ticket one millisecond before it expires', async () => {
    const { guard, clock } = ticketGuard();
    const { ticket, expiresAt } = await guard.issueTicket(ALICE, { origin: APP });
    clock.t = expiresAt - 1;
    expectAccepted(await redeemAt(guard, ticket));
  });

  it('an expired ticket is also used up', async () => {
    const { guard, clock } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    clock.t += 20_000;
    expectRejected(await redeemAt(guard, ticket), 'expired');
    expectRejected(await redeemAt(guard, ticket), 'credentials_invalid');
  });

  it('long after expiry the ticket is simply unknown (4001)', async () => {
    const { guard, clock } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    clock.t += 10 * 60_000;
    expectRejected(await redeemAt(guard, ticket), 'credentials_invalid');
  });

  it('createTickets reports expiry as CredentialError with expired: true', async () => {
    const clock = { t: T0 };
    const tickets = createTickets(createMemoryStore({ now: () => clock.t }), {}, () => clock.t);
    const { ticket } = await tickets.issue(ALICE);
    clock.t += DEFAULT_TICKET_TTL_MS;
    const error = await tickets.redeem(ticket).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as CredentialError).expired).toBe(true);
  });
});

describe('lifetime', () => {
  it('defaults to 10 s', async () => {
    const { guard } = ticketGuard();
    const issued = await guard.issueTicket(ALICE);
    expect(DEFAULT_TICKET_TTL_MS).toBe(10_000);
    expect(issued.expiresAt - T0).toBe(10_000);
    expect(issued.expiresIn).toBe(10);
  });

  it('allows up to 30 s when configured', async () => {
    const { guard } = ticketGuard({ ttlMs: 30_000 });
    const issued = await guard.issueTicket(ALICE);
    expect(MAX_TICKET_TTL_MS).toBe(30_000);
    expect(issued.expiresAt - T0).toBe(30_000);
    expect(issued.expiresIn).toBe(30);
  });

  it('never lets a per-ticket ttlMs lengthen the configured lifetime or pass 30 s', async () => {
    const { guard } = ticketGuard();
    expect((await guard.issueTicket(ALICE, { ttlMs: 60_000 })).expiresAt - T0).toBe(10_000);
    expect((await guard.issueTicket(ALICE, { ttlMs: 3_000 })).expiresAt - T0).toBe(3_000);
    const { guard: max } = ticketGuard({ ttlMs: 30_000 });
    expect((await max.issueTicket(ALICE, { ttlMs: 1e9 })).expiresAt - T0).toBe(30_000);
  });

  it('never outlives the principal it was issued for', async () => {
    const { guard, clock } = ticketGuard({ ttlMs: 30_000 });
    const issued = await guard.issueTicket({ ...ALICE, expiresAt: T0 + 4_000 }, { origin: APP });
    expect(issued.expiresAt).toBe(T0 + 4_000);
    expect(issued.expiresIn).toBe(4);
    clock.t = T0 + 4_000;
    expectRejected(await redeemAt(guard, issued.ticket), 'expired');
  });

  it('refuses to issue for a principal whose credential has already expired', async () => {
    const { guard } = ticketGuard();
    for (const expiresAt of [T0 - 1, T0, T0 - 60_000]) {
      const error = await guard
        .issueTicket({ ...ALICE, expiresAt }, { origin: APP })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuardError);
      expect((error as GuardError).code).toBe('ERR_WSGUARD_TICKET');
    }
  });

  it('refuses a ttlMs above 30000 at start-up', () => {
    for (const ttlMs of [30_001, 60_000, Number.POSITIVE_INFINITY]) {
      let problems: readonly string[] = [];
      try {
        createGuard({ origins: [APP], tickets: { ttlMs }, audit: false });
      } catch (error) {
        expect(error).toBeInstanceOf(GuardConfigError);
        problems = (error as GuardConfigError).problems;
      }
      expect(problems).toEqual([
        expect.stringMatching(/^tickets\.ttlMs: .* is outside 1\.\.30000 ms/),
      ]);
    }
    expect(() => createTickets(createMemoryStore(), { ttlMs: 30_001 })).toThrow(TypeError);
  });

  it('refuses a zero, negative or NaN ttlMs at start-up', () => {
    for (const ttlMs of [0, -1, Number.NaN]) {
      expect(() => createGuard({ origins: [APP], tickets: { ttlMs }, audit: false })).toThrow(
        GuardConfigError,
      );
    }
  });
});

describe('binding', () => {
  it('binds to the issuing origin by default', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    expectRejected(await redeemAt(guard, ticket, { origin: OTHER }), 'credentials_invalid');
  });

  it('accepts the ticket from its own origin', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: OTHER });
    expectAccepted(await redeemAt(guard, ticket, { origin: OTHER }));
  });

  it('binds a ticket issued without Origin to handshakes without Origin', async () => {
    const { guard } = ticketGuard();
    const a = await guard.issueTicket(ALICE, { origin: null });
    expectRejected(await redeemAt(guard, a.ticket, { origin: APP }), 'credentials_invalid');
    const b = await guard.issueTicket(ALICE, { origin: null });
    expectAccepted(await redeemAt(guard, b.ticket, { origin: null }));
  });

  it('ignores the origin when bindOrigin is false', async () => {
    const { guard } = ticketGuard({ bindOrigin: false });
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    expectAccepted(await redeemAt(guard, ticket, { origin: OTHER }));
  });

  it('binds to the issuing IP when bindIp is true', async () => {
    const { guard } = ticketGuard({ bindIp: true });
    const a = await guard.issueTicket(ALICE, { origin: APP, ip: '198.51.100.20' });
    expectRejected(await redeemAt(guard, a.ticket, { ip: '198.51.100.21' }), 'credentials_invalid');
    const b = await guard.issueTicket(ALICE, { origin: APP, ip: '198.51.100.20' });
    expectAccepted(await redeemAt(guard, b.ticket, { ip: '198.51.100.20' }));
  });

  it('does not bind to the IP by default', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP, ip: '198.51.100.20' });
    expectAccepted(await redeemAt(guard, ticket, { ip: '203.0.113.5' }));
  });

  it('a ticket presented from the wrong origin or address is used up', async () => {
    const { guard } = ticketGuard({ bindIp: true });
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP, ip: '198.51.100.20' });
    expectRejected(await redeemAt(guard, ticket, { ip: '203.0.113.5' }), 'credentials_invalid');
    expectRejected(await redeemAt(guard, ticket), 'credentials_invalid');
  });

  it('the origin allowlist still applies to ticket handshakes', async () => {
    const { guard } = ticketGuard();
    const { ticket } = await guard.issueTicket(ALICE, { origin: 'https://evil.io' });
    const d = await redeemAt(guard, ticket, { origin: 'https://evil.io' });
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe('origin');
      expect(d.status).toBe(403);
    }
  });
});

describe('storage', () => {
  it('writes only a hash of the ticket: no key or value contains it', async () => {
    const { store, writes } = recordingStore(createMemoryStore());
    const guard = createGuard({
      origins: [APP],
      tickets: { bindIp: true },
      store,
      audit: false,
      penalties: false,
    });
    const issued: string[] = [];
    for (let i = 0; i < 20; i++) {
      issued.push((await guard.issueTicket(ALICE, { origin: APP, ip: '198.51.100.20' })).ticket);
    }
    const ticketWrites = writes.filter(([k]) => k.startsWith('ticket:'));
    expect(ticketWrites).toHaveLength(20);
    for (const t of issued) {
      const hash = createHash('sha256').update(t).digest('hex');
      expect(ticketWrites.some(([k]) => k === `ticket:${hash}`)).toBe(true);
      for (const [k, v] of writes) {
        expect(k).not.toContain(t);
        expect(v).not.toContain(t);
        // Nor a fragment long enough to matter.
        expect(k).not.toContain(t.slice(0, 16));
        expect(v).not.toContain(t.slice(0, 16));
      }
    }
    // And the tickets still work.
    expectAccepted(await redeemAt(guard, issued[0]!));
  });

  it('fails closed (503) when the store cannot redeem, never accepting the ticket', async () => {
    const { store } = recordingStore(createMemoryStore());
    const broken: Store = {
      ...store,
      take: () => Promise.reject(new Error('connection reset')),
    };
    const guard = createGuard({
      origins: [APP],
      tickets: true,
      store: broken,
      audit: false,
      penalties: false,
      onError: () => {},
    });
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    const d = await redeemAt(guard, ticket);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe('store_unavailable');
      expect(d.status).toBe(503);
    }
  });

  it('keeps tickets out of audit events', async () => {
    const events: AuditEvent[] = [];
    const { guard } = ticketGuard(true, { audit: (e) => events.push(e) });
    const { ticket } = await guard.issueTicket(ALICE, { origin: APP });
    await redeemAt(guard, ticket);
    await redeemAt(guard, ticket);
    expect(events.map((e) => e.type)).toEqual([
      'ticket.issued',
      'connection.accepted',
      'connection.rejected',
    ]);
    expect(JSON.stringify(events)).not.toContain(ticket);
  });
});
