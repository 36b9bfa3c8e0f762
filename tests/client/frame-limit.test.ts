/**
 * A burst of calls made in one tick never becomes a frame over the server's limit: 80 mutations of
 * 1 KB (one tRPC batch of ~84 KB against the guard's 64 KiB) all succeed on an open socket. Real
 * guard behind the Node adapter, real `@trpc/client`.
 */
import { createTRPCClient, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { type ClientStop, createGuardedWSClient, MessageTooLargeError } from '../../src/client.ts';
import type { GuardedContext } from '../../src/trpc.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from '../trpc/serve-bridge.ts';

const t = initTRPC.context<GuardedContext>().create();
const router = t.router({
  put: t.procedure
    .input(z.object({ i: z.number(), text: z.string() }))
    .mutation(({ input }) => input.i),
});
type Router = typeof router;

describe('frames within the server limit', () => {
  let served: ServedBridge;
  beforeAll(async () => {
    served = await serveBridge(testGuard(), { router });
  });
  afterAll(async () => {
    await served?.close();
  });

  it('80 mutations of 1 KB in one tick all succeed, on one socket', async () => {
    const token = await sign('alice', ['user']);
    let sockets = 0;
    class CountingWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets++;
      }
    }
    const stops: ClientStop[] = [];
    const closes: number[] = [];
    const ws = createGuardedWSClient({
      url: served.wsUrl,
      WebSocket: CountingWebSocket as never,
      getToken: () => token,
      onStop: (s) => stops.push(s),
      onClose: (e) => closes.push(e.code),
    });
    const trpc = createTRPCClient<Router>({ links: [wsLink({ client: ws.client })] });
    try {
      const text = 'x'.repeat(1024);
      const results = await Promise.all(
        Array.from({ length: 80 }, (_, i) => trpc.put.mutate({ i, text })),
      );
      expect(results).toEqual(Array.from({ length: 80 }, (_, i) => i));
      expect(stops).toEqual([]);
      expect(closes).toEqual([]);
      expect(sockets).toBe(1);
    } finally {
      await ws.close();
    }
  });

  it('one call over the limit fails alone, unsent; the socket and the other calls go on', async () => {
    const token = await sign('alice', ['user']);
    const stops: ClientStop[] = [];
    const closes: number[] = [];
    const ws = createGuardedWSClient({
      url: served.wsUrl,
      WebSocket: WebSocket as never,
      getToken: () => token,
      onStop: (s) => stops.push(s),
      onClose: (e) => closes.push(e.code),
    });
    const trpc = createTRPCClient<Router>({ links: [wsLink({ client: ws.client })] });
    try {
      expect(await trpc.put.mutate({ i: 1, text: 'small' })).toBe(1);
      // In one tick: a call far over 64 KiB between two small ones.
      const calls = [
        trpc.put.mutate({ i: 2, text: 'a' }),
        trpc.put.mutate({ i: 3, text: 'x'.repeat(70_000) }),
        trpc.put.mutate({ i: 4, text: 'b' }),
      ];
      const settled = await Promise.allSettled(calls);
      expect(settled[0]).toEqual({ status: 'fulfilled', value: 2 });
      expect(settled[2]).toEqual({ status: 'fulfilled', value: 4 });
      expect(settled[1]?.status).toBe('rejected');
      const cause = (settled[1] as PromiseRejectedResult).reason.cause;
      expect(cause).toBeInstanceOf(MessageTooLargeError);
      expect(cause.limit).toBe(65_536);
      expect(cause.bytes).toBeGreaterThan(70_000);
      expect(await trpc.put.mutate({ i: 5, text: 'after' })).toBe(5);
      expect(stops).toEqual([]);
      expect(closes).toEqual([]);
    } finally {
      await ws.close();
    }
  });
});
