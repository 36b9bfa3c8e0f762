/**
 * The compression probes against real `ws` servers that each fail one way: one that inflates the
 * bomb and stays silent, one that dies of it, one that declines deflate. The probes run on a real
 * socket through the audit's own `attempt`; only the shared context is assembled here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { attempt, type Outcome } from '../../cli/attempt.ts';
import type { ProbeContext } from '../../cli/probe.ts';
import { COMPRESSION_PROBES } from '../../cli/probes-compression.ts';

let stop: (() => void) | undefined;
afterEach(() => stop?.());

/** A bare ws server; `onBig` runs when a frame over 1 MiB (inflated) arrives. */
async function start(
  perMessageDeflate: boolean,
  onBig: (ws: WebSocket, server: Server, wss: WebSocketServer) => void,
): Promise<string> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      if (data.length > 1 << 20) onBig(ws, server, wss);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stop = () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  };
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

function context(url: string): ProbeContext {
  const log: Outcome[] = [];
  return {
    url,
    origin: 'http://127.0.0.1',
    waitMs: 500,
    authWaitMs: 500,
    authed: (u) => u,
    socketUrl: url,
    log,
    banned: false,
    freshSource: () => false,
    attempt: async (a) => {
      const o = await attempt(a);
      log.push(o);
      return o;
    },
  };
}

async function run(url: string): Promise<Record<string, [string, string | undefined, string]>> {
  const ctx = context(url);
  const out: Record<string, [string, string | undefined, string]> = {};
  for (const p of COMPRESSION_PROBES) {
    const j = await p.run(ctx);
    out[p.id] = [j.verdict, j.severity, j.observed];
  }
  return out;
}

describe('compression probes', () => {
  it('a server that inflates the bomb and stays silent: a medium warning, deflate unbounded', async () => {
    const url = await start(true, () => {});
    const got = await run(url);
    expect(got['compression.inflate-bomb']?.slice(0, 2)).toEqual(['warn', 'medium']);
    expect(got['compression.inflate-bomb']?.[2]).toMatch(/^no close within \d+ ms/);
    expect(got['compression.deflate-unbounded']?.[0]).toBe('fail');
  }, 20_000);

  it('a server that stops serving after the bomb: a failure (high by the probe)', async () => {
    const url = await start(true, (ws, server, wss) => {
      // What an out-of-memory crash looks like from outside: the socket drops, nothing listens.
      server.close();
      wss.close();
      ws.terminate();
    });
    const got = await run(url);
    expect(got['compression.inflate-bomb']?.[0]).toBe('fail');
    expect(got['compression.inflate-bomb']?.[2]).toContain('the server stopped serving');
    expect(COMPRESSION_PROBES[1]?.severity).toBe('high');
  }, 20_000);

  it('a server that declines deflate passes both, without a bomb sent', async () => {
    let big = 0;
    const url = await start(false, () => {
      big++;
    });
    const got = await run(url);
    expect(got['compression.deflate-unbounded']?.[0]).toBe('pass');
    expect(got['compression.deflate-unbounded']?.[2]).toMatch(/^declined/);
    expect(got['compression.inflate-bomb']?.[0]).toBe('pass');
    expect(big).toBe(0);
  }, 20_000);

  it('a server that closes 1009 after inflating past its bound passes, still serving', async () => {
    const url = await start(true, (ws) => ws.close(1009, 'too big'));
    const got = await run(url);
    expect(got['compression.inflate-bomb']?.[0]).toBe('pass');
    expect(got['compression.inflate-bomb']?.[2]).toMatch(/closed 1009.*a new connection opens/);
    expect(got['compression.deflate-unbounded']?.[2]).toMatch(/inflated size bounded/);
  }, 20_000);
});
