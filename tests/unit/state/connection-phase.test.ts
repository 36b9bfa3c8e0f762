/**
 * One connection, one state: a connection's phase moves forward only (pending → authenticating →
 * live → closing → closed), whichever door it came through, and `closed` is final — a refresh or
 * a late authentication cannot bring a closing or closed connection back to life.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/mod.ts';
import {
  type ConnectionState,
  createConnectionState,
  enterPhase,
} from '../../../src/state/connection.ts';
import { attach, forged, sign, testGuard } from '../fixtures/guards.ts';

const phaseOf = (c: unknown): string => (c as ConnectionState).phase;

/** A guard with first-message auth, and one accepted socket awaiting its credential. */
async function pendingSocket() {
  const { guard, upgrade } = testGuard(createMemoryStore(), {
    credentials: { header: true, firstMessage: true },
  });
  const d = await upgrade({});
  if (!d.ok) throw new Error(d.reason);
  return { guard, s: attach(guard, d.connection) };
}

describe('the connection lifecycle', () => {
  it('a handshake with a credential is live at accept, closed after close', async () => {
    const { guard, open } = testGuard(createMemoryStore());
    const s = await open({ sub: 'alice' });
    expect(phaseOf(s.connection)).toBe('live');
    await guard.close(s.connection);
    expect(phaseOf(s.connection)).toBe('closed');
    expect(s.connection.closed).toBe(true);
  });

  it('first-message auth: pending, then authenticating while verified, then live', async () => {
    const { guard, s } = await pendingSocket();
    expect(phaseOf(s.connection)).toBe('pending');
    const decision = guard.message(
      s.connection,
      JSON.stringify({ type: 'auth', token: await sign('bob') }),
    );
    expect(phaseOf(s.connection)).toBe('authenticating');
    // A frame while the credential is verified is refused, and does not move the phase back.
    const during = await guard.message(s.connection, '{"text":"early"}');
    expect(during).toMatchObject({ action: 'close', reason: 'credentials_missing' });
    expect(await decision).toMatchObject({ action: 'deliver', authenticated: true });
    // The early frame's close decision came first: the connection is closing, not live.
    expect(phaseOf(s.connection)).toBe('closing');
  });

  it('first-message auth without interference ends live', async () => {
    const { guard, s } = await pendingSocket();
    const decision = await guard.message(
      s.connection,
      JSON.stringify({ type: 'auth', token: await sign('bob') }),
    );
    expect(decision).toMatchObject({ action: 'deliver', authenticated: true });
    expect(phaseOf(s.connection)).toBe('live');
  });

  it('a refused credential message leaves the connection closing, never pending or live', async () => {
    const { guard, s } = await pendingSocket();
    const decision = await guard.message(
      s.connection,
      JSON.stringify({ type: 'auth', token: await forged('bob') }),
    );
    expect(decision).toMatchObject({ action: 'close', reason: 'credentials_invalid' });
    expect(phaseOf(s.connection)).toBe('closing');
    await guard.close(s.connection, 4001);
    expect(phaseOf(s.connection)).toBe('closed');
  });

  it('a refresh after a close decision does not revive the connection', async () => {
    const { guard, open } = testGuard(createMemoryStore(), {
      limits: {
        connectRate: false,
        messageRate: { limit: 1, windowMs: 60_000, burst: 1 },
        closeAfterRateHits: 1,
      },
    });
    const s = await open({ sub: 'carol' });
    expect(await guard.message(s.connection, '{"a":1}')).toMatchObject({ action: 'deliver' });
    expect(await guard.message(s.connection, '{"a":2}')).toMatchObject({ action: 'close' });
    expect(phaseOf(s.connection)).toBe('closing');
    await guard.refresh(s.connection, await sign('carol'));
    expect(phaseOf(s.connection)).toBe('closing');
  });
});

describe('enterPhase', () => {
  const fresh = (): ConnectionState =>
    createConnectionState(
      { ip: '203.0.113.9', origin: null, userAgent: undefined, url: '/ws', protocol: undefined },
      'c1',
      '203.0.113.9',
      '/ws',
      0,
      0,
    );

  it('closed is final', () => {
    const c = fresh();
    enterPhase(c, 'closed');
    for (const p of ['pending', 'authenticating', 'live', 'closing'] as const) {
      enterPhase(c, p);
      expect(c.phase).toBe('closed');
    }
    expect(c.closed).toBe(true);
  });

  it('closing gives way only to closed', () => {
    const c = fresh();
    enterPhase(c, 'live');
    enterPhase(c, 'closing');
    for (const p of ['pending', 'authenticating', 'live'] as const) {
      enterPhase(c, p);
      expect(c.phase).toBe('closing');
    }
    expect(c.closed).toBe(false);
    enterPhase(c, 'closed');
    expect(c.phase).toBe('closed');
  });

  it('a new connection starts pending, not closed', () => {
    const c = fresh();
    expect(c.phase).toBe('pending');
    expect(c.closed).toBe(false);
  });
});
