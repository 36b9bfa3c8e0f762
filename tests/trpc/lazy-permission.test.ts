/**
 * `meta.permission` on procedures behind tRPC `lazy()` routers (issue 12, defect 2): the check
 * must see the procedure even on the first calls, before the lazy router has loaded, for
 * queries, mutations, subscriptions, batches, nested lazy routers, concurrent first frames and
 * the re-authorization paths (`ctx.refresh`, `bridge.reauthorize`). Real server (wsguard's Node
 * adapter + `trpcHooks`), real sockets on loopback, the unmodified `@trpc/client`; each case
 * builds a fresh router, so its lazy routers have never loaded. Every privileged procedure counts
 * its runs: the assertions are on what ran, not only on what the client was told.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bounded } from '../helpers/bounded.ts';
import { type Effects, type LazyRouter, makeLazyRouter, noEffects } from './lazy-router.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from './serve-bridge.ts';

type Reply = {
  id: number | string | null;
  result?: { type?: string; data?: unknown };
  error?: { message: string; data?: { code: string } };
};

let served: ServedBridge | undefined;
const opened: { close(): void }[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  await served?.close();
  served = undefined;
});

async function start(
  effects: Effects,
  options: { loadMs?: number; reauthorize?: () => boolean } = {},
): Promise<ServedBridge> {
  served = await serveBridge(testGuard(), {
    router: makeLazyRouter(effects, options.loadMs === undefined ? {} : { loadMs: options.loadMs }),
    ...(options.reauthorize ? { reauthorize: options.reauthorize } : {}),
  });
  return served;
}

/** The tRPC error code a call ended with, or 'ok'. */
async function outcome(p: Promise<unknown>, what: string): Promise<string> {
  try {
    await bounded(p, what);
    return 'ok';
  } catch (error) {
    if (error instanceof TRPCClientError)
      return (error as TRPCClientError<LazyRouter>).data?.code ?? 'no-code';
    throw error;
  }
}

/** The unmodified tRPC client, token in the URL (so its first frame is a call, not params). */
async function stock(s: ServedBridge, sub: string, roles: string[]) {
  const ws = createWSClient({
    url: `${s.wsUrl}?token=${await sign(sub, roles)}`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 50,
  });
  opened.push(ws);
  return createTRPCClient<LazyRouter>({ links: [wsLink({ client: ws })] });
}

/** A raw socket that records every reply. */
async function raw(s: ServedBridge, sub: string, roles: string[]) {
  const ws = new WebSocket(`${s.wsUrl}?token=${await sign(sub, roles)}`);
  opened.push(ws);
  const replies: Reply[] = [];
  ws.on('message', (d) => {
    const text = d.toString();
    if (text !== 'PONG') replies.push(JSON.parse(text) as Reply);
  });
  await bounded(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'open',
  );
  return { ws, replies };
}

const wipe = (id: number) => ({
  id,
  method: 'mutation',
  params: { path: 'admin.wipe', input: { n: id } },
});
const codeOf = (r: Reply | undefined): string | undefined =>
  r?.error ? r.error.data?.code : r?.result ? 'ok' : undefined;

describe('meta.permission behind lazy() routers', () => {
  it('refuses the very first call into a lazy router when the principal lacks the permission', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const nobody = await stock(s, 'nobody', []);
    expect(await outcome(nobody.admin.wipe.mutate({ n: 1 }), 'wipe')).toBe('FORBIDDEN');
    expect(effects.wipes).toBe(0);
    // The router did load for it, and a principal holding the permission is served.
    const admin = await stock(s, 'root', ['admin']);
    expect(await bounded(admin.admin.wipe.mutate({ n: 7 }), 'admin wipe')).toBe(7);
    expect(effects.wipes).toBe(1);
    expect(await outcome(nobody.admin.wipe.mutate({ n: 2 }), 'wipe again')).toBe('FORBIDDEN');
    expect(effects.wipes).toBe(1);
  });

  it('refuses all 10 calls of a first frame that is a batch into an unloaded lazy router', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const { ws, replies } = await raw(s, 'nobody', []);
    ws.send(JSON.stringify(Array.from({ length: 10 }, (_, i) => wipe(i + 1))));
    await expect.poll(() => replies.length, { timeout: 5000 }).toBe(10);
    expect(replies.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    expect(new Set(replies.map(codeOf))).toEqual(new Set(['FORBIDDEN']));
    expect(effects.wipes).toBe(0);
  });

  it('refuses a batch of 10 from the unmodified client (one frame, before the router loaded)', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const nobody = await stock(s, 'nobody', []);
    const codes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        outcome(nobody.admin.wipe.mutate({ n: i }), `wipe ${i}`),
      ),
    );
    expect(codes).toEqual(Array(10).fill('FORBIDDEN'));
    expect(effects.wipes).toBe(0);
  });

  it('checks procedures behind nested lazy routers', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const reader = await stock(s, 'rita', ['reader']);
    expect(await outcome(reader.ops.inner.purge.mutate(), 'purge')).toBe('FORBIDDEN');
    expect(effects.purges).toBe(0);
    expect(effects.loads).toBe(2); // both levels loaded to find the procedure's meta
    const admin = await stock(s, 'root', ['admin']);
    expect(await bounded(admin.ops.inner.purge.mutate(), 'admin purge')).toBe('purged');
    expect(effects.purges).toBe(1);
  });

  it('refuses a subscription into an unloaded lazy router; its generator never runs', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const nobody = await stock(s, 'nobody', []);
    const errors: string[] = [];
    let started = 0;
    nobody.admin.feed.subscribe(undefined, {
      onStarted: () => started++,
      onError: (e) => errors.push((e as TRPCClientError<LazyRouter>).data?.code ?? 'no-code'),
    });
    await expect.poll(() => errors, { timeout: 5000 }).toEqual(['FORBIDDEN']);
    expect(started).toBe(0);
    expect(effects.feeds).toBe(0);
    // With the permission, the same subscription starts.
    const reader = await stock(s, 'rita', ['reader']);
    const data: unknown[] = [];
    const sub = reader.admin.feed.subscribe(undefined, { onData: (d) => data.push(d) });
    await expect.poll(() => data, { timeout: 5000 }).toEqual([1]);
    expect(effects.feeds).toBe(1);
    sub.unsubscribe();
  });

  it('refuses every unprivileged call of concurrent first frames on many connections', async () => {
    const effects = noEffects();
    const s = await start(effects, { loadMs: 50 });
    const socks = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => raw(s, `user${i}`, ['user'])),
      raw(s, 'root', ['admin']),
    ]);
    // All first frames leave together, while the lazy router has not loaded.
    for (const { ws } of socks)
      ws.send(JSON.stringify(Array.from({ length: 10 }, (_, i) => wipe(i + 1))));
    await expect
      .poll(() => socks.every((x) => x.replies.length === 10), { timeout: 5000 })
      .toBe(true);
    for (const x of socks.slice(0, 5))
      expect(new Set(x.replies.map(codeOf))).toEqual(new Set(['FORBIDDEN']));
    expect(socks[5]!.replies.map(codeOf)).toEqual(Array(10).fill('ok'));
    expect(effects.wipes).toBe(10);
    expect(effects.loads).toBe(1); // one load shared by every waiting call
  });

  it('denies what cannot be resolved as tRPC does: unknown paths NOT_FOUND, a failed load refused', async () => {
    const effects = noEffects();
    const s = await start(effects);
    const { ws, replies } = await raw(s, 'root', ['admin']);
    ws.send(
      JSON.stringify([
        { id: 1, method: 'mutation', params: { path: 'admin.nope', input: null } },
        { id: 2, method: 'mutation', params: { path: 'ops.inner.nope', input: null } },
        // A query for a mutation is not found, as tRPC's callProcedure answers it.
        { id: 3, method: 'query', params: { path: 'admin.wipe', input: { n: 1 } } },
        { id: 4, method: 'mutation', params: { path: 'broken.wipe', input: { n: 1 } } },
        { id: 5, method: 'mutation', params: { path: 'nothing.at.all', input: null } },
      ]),
    );
    await expect.poll(() => replies.length, { timeout: 5000 }).toBe(5);
    const byId = new Map(replies.map((r) => [r.id, codeOf(r)]));
    expect(byId.get(1)).toBe('NOT_FOUND');
    expect(byId.get(2)).toBe('NOT_FOUND');
    expect(byId.get(3)).toBe('NOT_FOUND');
    expect(byId.get(4)).toBe('INTERNAL_SERVER_ERROR');
    expect(byId.get(5)).toBe('NOT_FOUND');
    expect(effects.wipes).toBe(0);
  });

  it('stops a subscription when a refresh drops the permission while its lazy router loads', async () => {
    const effects = noEffects();
    const s = await start(effects, { loadMs: 300 });
    const { ws, replies } = await raw(s, 'rita', ['reader']);
    // One frame: the subscription (waits for the lazy router), then the refresh, which completes
    // first and re-authorizes the pending subscription under the new principal.
    ws.send(
      JSON.stringify([
        { id: 1, method: 'subscription', params: { path: 'admin.feed', input: null } },
        {
          id: 2,
          method: 'mutation',
          params: { path: 'session.refresh', input: { token: await sign('rita', []) } },
        },
      ]),
    );
    await expect.poll(() => replies.some((r) => r.id === 1), { timeout: 5000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 100)); // anything more for id 1 would have arrived
    const forSub = replies.filter((r) => r.id === 1);
    expect(forSub.map(codeOf)).toEqual(['FORBIDDEN']);
    expect(codeOf(replies.find((r) => r.id === 2))).toBe('ok');
    expect(effects.feeds).toBe(0);
  });

  it('stops a running lazy subscription after a refresh drops its permission, and after bridge.reauthorize', async () => {
    const effects = noEffects();
    let allowed = true;
    const s = await start(effects, { reauthorize: () => allowed });
    const { ws, replies } = await raw(s, 'rita', ['reader']);
    ws.send(
      JSON.stringify({
        id: 1,
        method: 'subscription',
        params: { path: 'admin.feed', input: null },
      }),
    );
    ws.send(
      JSON.stringify({
        id: 2,
        method: 'subscription',
        params: { path: 'admin.feed', input: null },
      }),
    );
    await expect
      .poll(() => replies.filter((r) => r.result?.type === 'data').length, { timeout: 5000 })
      .toBe(2);
    // The app revokes: bridge.reauthorize() stops both.
    allowed = false;
    expect(await s.bridge.reauthorize()).toBe(2);
    await expect
      .poll(() => replies.filter((r) => r.error?.data?.code === 'FORBIDDEN').length)
      .toBe(2);
    allowed = true;
    ws.send(
      JSON.stringify({
        id: 3,
        method: 'subscription',
        params: { path: 'admin.feed', input: null },
      }),
    );
    await expect
      .poll(() => replies.some((r) => r.id === 3 && r.result?.type === 'data'))
      .toBe(true);
    ws.send(
      JSON.stringify({
        id: 4,
        method: 'mutation',
        params: { path: 'session.refresh', input: { token: await sign('rita', []) } },
      }),
    );
    await expect.poll(() => replies.some((r) => r.id === 3 && r.error)).toBe(true);
    expect(codeOf(replies.find((r) => r.id === 3 && r.error))).toBe('FORBIDDEN');
  });
});
