import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { audit } from '../../cli/audit.ts';
import { createGuard } from '../../src/mod.ts';
import { createTRPCBridge } from '../../src/trpc.ts';
import { makeRouter, Rooms } from '../trpc/fixture-router.ts';
import { type Harness, startHarness } from '../trpc/harness.ts';

const secret = 'cli-audit-secret-that-is-32-bytes-long';
let guarded: Harness;
let bare: { url: string; close(): Promise<void> };
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
  // An unguarded echo server: what the audit must flag.
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  bare = {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.close(() => r());
      }),
  };
});
afterAll(async () => {
  await guarded.close();
  await bare.close();
});

describe('wsguard audit', () => {
  it('passes every attack probe against a guarded endpoint (and warns about plain ws://)', async () => {
    const findings = await audit({
      url: `${guarded.url}/ws`,
      origin: 'http://127.0.0.1',
      token,
      waitMs: 1500,
    });
    const failed = findings.filter((f) => f.verdict === 'fail');
    expect(failed).toEqual([]);
    expect(findings.find((f) => f.check === 'transport')?.verdict).toBe('warn');
    expect(findings.find((f) => f.check.startsWith('oversized'))?.observed).toContain('1009');
    expect(findings.find((f) => f.check.startsWith('foreign Origin'))?.observed).toBe('HTTP 403');
  });

  it('flags an unguarded endpoint: hijacking, missing auth, forged tokens', async () => {
    const findings = await audit({ url: bare.url, waitMs: 500 });
    const failed = new Set(findings.filter((f) => f.verdict === 'fail').map((f) => f.check));
    expect(failed).toContain('foreign Origin (cross-site WebSocket hijacking)');
    expect(failed).toContain('no credentials');
    expect(failed).toContain('unsigned token (alg: none)');
    expect(findings.filter((f) => f.verdict === 'skip').length).toBe(4);
  });
});
