import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../cli/audit.ts';
import { createGuard } from '../../src/mod.ts';
import { createTRPCBridge } from '../../src/trpc.ts';
import { type InsecureServer, startInsecureServer } from '../fixtures/insecure-server.ts';
import { makeRouter, Rooms } from '../trpc/fixture-router.ts';
import { type Harness, startHarness } from '../trpc/harness.ts';

const secret = 'cli-audit-secret-that-is-32-bytes-long';
let guarded: Harness;
let bare: InsecureServer;
let token: string;

beforeAll(async () => {
  const guard = createGuard({
    origins: ['http://127.0.0.1'],
    jwt: { algorithms: ['HS256'], secret },
    tickets: true,
    credentials: { header: true, query: true },
    limits: { connectRate: false },
    penalties: false,
    audit: false,
  });
  guarded = await startHarness(guard, createTRPCBridge({ router: makeRouter(new Rooms()), guard }));
  token = await new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('auditor')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));
  bare = await startInsecureServer();
});
afterAll(async () => {
  await guarded.close();
  await bare.close();
});

describe('wsguard audit (in process)', () => {
  it('a guarded tRPC endpoint without penalties: every probe runs, only the disabled connection rate fails', async () => {
    const seen: string[] = [];
    const result = await audit({
      url: `${guarded.url}/ws`,
      origin: 'http://127.0.0.1',
      token,
      waitMs: 1500,
      authWaitMs: 1500,
      onFinding: (f) => seen.push(f.id),
    });
    expect(result.unreachable).toBeUndefined();
    expect(seen).toEqual(result.findings.map((f) => f.id));
    // This guard runs with `connectRate: false`: the one failure, and the audit must say so.
    expect(result.findings.filter((f) => f.verdict === 'fail').map((f) => f.id)).toEqual([
      'connections.rate',
    ]);
    expect(result.findings.filter((f) => f.verdict === 'not-run')).toEqual([]);
    expect(result.findings.some((f) => f.id === 'defence.ban')).toBe(false);
    const by = Object.fromEntries(result.findings.map((f) => [f.id, f]));
    expect(by.transport?.verdict).toBe('warn');
    expect(by['origin.foreign']?.observed).toBe('refused: HTTP 403');
    expect(by['messages.size']?.observed).toContain('1009');
  }, 60_000);

  it('an unguarded echo endpoint without a token: the message probes still run on its anonymous socket', async () => {
    const result = await audit({ url: bare.url, waitMs: 400, authWaitMs: 400 });
    const failed = new Set(result.findings.filter((f) => f.verdict === 'fail').map((f) => f.id));
    for (const id of [
      'origin.foreign',
      'credentials.missing',
      'credentials.unsigned',
      'messages.prototype-key',
      'messages.deep-json',
    ])
      expect(failed).toContain(id);
    expect(result.findings.filter((f) => f.verdict === 'skip').map((f) => f.id)).toEqual([
      'origin.downgrade',
      'credentials.tampered',
      'credentials.alg-confusion',
      'credentials.expired',
      'credentials.ticket-replay',
      'credentials.ticket-lifetime',
    ]);
    // Its anonymous socket takes a compressed frame that inflates to 16 MiB, and echoes it.
    for (const id of ['compression.deflate-unbounded', 'compression.inflate-bomb'])
      expect(failed).toContain(id);
  }, 60_000);
});
