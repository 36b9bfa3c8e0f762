/**
 * A subscription id, once freed, names only the newest subscription: a subscription that
 * re-authorization stopped while its procedure was still setting up must not, when it finally
 * finishes, remove a newer subscription the client opened with the same id. Removed, the newer
 * one would run uncounted (past `maxSubscriptions`), never be re-authorized, and outlive the
 * socket. In process, with a recording socket and a real guard connection.
 */
import { initTRPC } from '@trpc/server';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createGuard } from '../../src/mod.ts';
import { createTRPCBridge, type GuardedContext } from '../../src/trpc.ts';

const secret = 'a-test-secret-that-is-long-enough-32b';
const t = initTRPC.context<GuardedContext>().create();

describe('subscription ids', () => {
  it('a stopped subscription finishing late does not drop the newer one that reused its id', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const running = new Set<string>();
    const router = t.router({
      feed: t.procedure
        .input(z.object({ room: z.string() }))
        // The first subscription is held here, after the bridge's checks, before it returns.
        .use(async ({ input, next }) => {
          if ((input as { room: string }).room === 'a') await gate;
          return next();
        })
        .subscription(async function* ({ input, signal }) {
          running.add(input.room);
          try {
            yield input.room;
            await new Promise<void>((r) =>
              signal?.addEventListener('abort', () => r(), { once: true }),
            );
          } finally {
            running.delete(input.room);
          }
        }),
    });
    const guard = createGuard({
      origins: ['http://127.0.0.1'],
      jwt: { algorithms: ['HS256'], secret },
      credentials: { header: true },
      audit: false,
    });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ada')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret));
    const d = await guard.upgrade({
      request: new Request('http://127.0.0.1/ws', {
        headers: { authorization: `Bearer ${token}` },
      }),
      ip: '127.0.0.1',
    });
    if (!d.ok) throw new Error(d.reason);
    const bridge = createTRPCBridge({
      router,
      guard,
      onError: () => {},
      // The app revokes room 'a' only.
      reauthorize: (_ctx, sub) => (sub.input as { room: string }).room !== 'a',
    });
    const sent: { id: unknown; error?: { data: { code: string } }; result?: { type: string } }[] =
      [];
    const session = bridge.open(
      { send: (data) => sent.push(JSON.parse(data)), close: () => {} },
      d.connection,
    );
    const sub = (room: string) => ({
      id: 1,
      method: 'subscription',
      params: { path: 'feed', input: { room } },
    });

    bridge.message(session, sub('a'));
    await expect.poll(() => session.subscriptions).toBe(1);
    expect(await bridge.reauthorize()).toBe(1); // stops 'a' while it is held in its middleware
    expect(sent.map((m) => m.error?.data.code)).toEqual(['FORBIDDEN']);
    bridge.message(session, sub('b')); // the id is free again
    await expect.poll(() => running.has('b')).toBe(true);
    release?.(); // 'a' now finishes setting up, already stopped
    await new Promise((r) => setTimeout(r, 20));
    expect(running.has('a')).toBe(false);
    expect(session.subscriptions).toBe(1); // 'b' is still counted
    bridge.close(session);
    await expect.poll(() => running.size).toBe(0); // and ends with the socket
    await guard.close(d.connection);
  });
});
