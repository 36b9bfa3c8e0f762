/**
 * A 1009 (message too big) is a client bug, not an auth failure: the guarded client stops with
 * kind `too-big`, does not call `onAuthError`, and stays stopped (a later call opens no socket).
 * Real guard behind the Node adapter, real `@trpc/client`.
 */
import { createTRPCClient, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { type ClientStop, ClientStoppedError, createGuardedWSClient } from '../../src/client.ts';
import type { GuardedContext } from '../../src/trpc.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from '../trpc/serve-bridge.ts';

const t = initTRPC.context<GuardedContext>().create();
const router = t.router({
  echo: t.procedure
    .input(z.object({ text: z.string() }))
    .mutation(({ input }) => input.text.length),
});
type Router = typeof router;

describe('1009 from the server', () => {
  let served: ServedBridge;
  beforeAll(async () => {
    served = await serveBridge(
      testGuard({ messages: { passthrough: ['PING', 'PONG'], maxBytes: 4096 } }),
      { router },
    );
  });
  afterAll(async () => {
    await served?.close();
  });

  it('stops as too-big, without onAuthError, and stays stopped', async () => {
    const token = await sign('alice', ['user']);
    let sockets = 0;
    class CountingWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets++;
      }
    }
    const auth: unknown[] = [];
    const stops: ClientStop[] = [];
    const ws = createGuardedWSClient({
      url: served.wsUrl,
      WebSocket: CountingWebSocket as never,
      getToken: () => token,
      onAuthError: (s) => auth.push(s),
      onStop: (s) => stops.push(s),
      backoff: { baseMs: 10, maxMs: 50 },
    });
    const trpc = createTRPCClient<Router>({ links: [wsLink({ client: ws.client })] });
    try {
      await expect(trpc.echo.mutate({ text: 'hi' })).resolves.toBe(2);
      await expect(trpc.echo.mutate({ text: 'x'.repeat(10_000) })).rejects.toThrow();
      await expect.poll(() => stops.length, { timeout: 5000 }).toBe(1);
      expect(stops[0]).toMatchObject({ kind: 'too-big', code: 1009 });
      expect(auth).toEqual([]);
      const before = sockets;
      await new Promise((r) => setTimeout(r, 1000));
      const later = await trpc.echo.mutate({ text: 'again' }).catch((e: unknown) => e);
      expect((later as { cause?: unknown }).cause).toBeInstanceOf(ClientStoppedError);
      await new Promise((r) => setTimeout(r, 300));
      expect(sockets).toBe(before);
    } finally {
      await ws.close();
    }
  });
});
