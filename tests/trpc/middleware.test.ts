import { initTRPC, TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createGuard, type Principal } from '../../src/mod.ts';
import {
  type GuardedContext,
  type GuardedMeta,
  rateLimit,
  requireAccess,
  requirePermission,
} from '../../src/trpc.ts';

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();
const guard = createGuard({
  origins: ['https://app.example.com'],
  allowAnonymous: true,
  permissions: {
    roles: { member: ['room.read'] },
    canAccess: (p, resource) => resource === `room:${p.sub}` || p.roles.includes('admin'),
  },
  audit: false,
});

/** The context the bridge builds, for a principal, without a socket. */
function ctxFor(sub: string, roles: string[]): GuardedContext {
  const p: Principal = { sub, roles, permissions: roles.includes('member') ? ['room.read'] : [] };
  return {
    principal: p,
    connection: { id: `c-${sub}`, ip: '127.0.0.1', origin: null, userAgent: undefined },
    can: (permission) => guard.can(p, permission),
    canAccess: (resource) => guard.canAccess(p, resource),
    refresh: () => Promise.reject(new Error('not used')),
  };
}

const router = t.router({
  room: t.procedure
    .use(requirePermission('room.read'))
    .use(requireAccess((input) => `room:${(input as { room: string }).room}`))
    .input(z.object({ room: z.string() }))
    .query(({ input }) => input.room),
  ping: t.procedure.use(rateLimit({ limit: 3, windowMs: 60_000, burst: 3 })).query(() => 'pong'),
});
const caller = t.createCallerFactory(router);

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'OK',
    (e: unknown) => (e instanceof TRPCError ? e.code : String(e)),
  );
}

describe('tRPC middlewares', () => {
  it('requireAccess admits only resources the canAccess hook allows', async () => {
    const alice = caller(ctxFor('alice', ['member']));
    expect(await alice.room({ room: 'alice' })).toBe('alice');
    expect(await code(alice.room({ room: 'bob' }))).toBe('FORBIDDEN');
  });

  it('requirePermission runs first: no permission, no resource check', async () => {
    const guest = caller(ctxFor('guest', []));
    expect(await code(guest.room({ room: 'guest' }))).toBe('FORBIDDEN');
  });

  it('rateLimit refuses past the budget, per procedure and principal', async () => {
    const a = caller(ctxFor('a', []));
    const b = caller(ctxFor('b', []));
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await code(a.ping()));
    expect(results).toEqual(['OK', 'OK', 'OK', 'TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS']);
    // Another principal has its own budget.
    expect(await code(b.ping())).toBe('OK');
  });
});
