import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  createGuard,
  createPermissions,
  type Guard,
  type GuardConnection,
  type GuardOptions,
  grants,
  type Principal,
} from '../../../src/mod.ts';

const ORIGIN = 'https://app.example.com';
const SECRET = 'p'.repeat(40);

const sign = (sub: string, claims: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

function setup(extra: Partial<GuardOptions> = {}): {
  guard: Guard;
  events: AuditEvent[];
  connect: (sub: string, claims?: Record<string, unknown>) => Promise<GuardConnection>;
} {
  const events: AuditEvent[] = [];
  const guard = createGuard({
    origins: [ORIGIN],
    jwt: { algorithms: ['HS256'], secret: SECRET },
    audit: (e) => events.push(e),
    penalties: false,
    ...extra,
  });
  const connect = async (sub: string, claims: Record<string, unknown> = {}) => {
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${await sign(sub, claims)}` },
      }),
      ip: '203.0.113.9',
    });
    if (!d.ok) throw new Error(`upgrade refused: ${d.reason}`);
    return d.connection;
  };
  return { guard, events, connect };
}

const principal = (permissions: string[], roles: string[] = []): Principal => ({
  sub: 'u1',
  roles,
  permissions,
});

describe('grants (wildcards)', () => {
  it('grants an exact permission and nothing else', () => {
    expect(grants(['chat.send'], 'chat.send')).toBe(true);
    expect(grants(['chat.send'], 'chat.read')).toBe(false);
    expect(grants(['chat.send'], 'chat')).toBe(false);
    expect(grants(['chat.send'], 'chat.send.now')).toBe(false);
  });

  it('chat.* grants every permission under chat, at any depth', () => {
    expect(grants(['chat.*'], 'chat.send')).toBe(true);
    expect(grants(['chat.*'], 'chat.a.b')).toBe(true);
    expect(grants(['chat.*'], 'chat.room.42.join')).toBe(true);
  });

  it('chat.* grants neither chat itself nor a look-alike prefix', () => {
    expect(grants(['chat.*'], 'chat')).toBe(false);
    expect(grants(['chat.*'], 'chatx.send')).toBe(false);
    expect(grants(['chat.*'], 'xchat.send')).toBe(false);
    expect(grants(['chat.*'], 'admin.chat.send')).toBe(false);
    expect(grants(['chat.*'], 'chat*')).toBe(false);
  });

  it('a nested wildcard grants only its own subtree', () => {
    expect(grants(['chat.room.*'], 'chat.room.join')).toBe(true);
    expect(grants(['chat.room.*'], 'chat.send')).toBe(false);
    expect(grants(['chat.room.*'], 'chat.roomx.join')).toBe(false);
  });

  it('* grants everything', () => {
    expect(grants(['*'], 'chat.send')).toBe(true);
    expect(grants(['*'], 'admin')).toBe(true);
    expect(grants(['*'], 'a.b.c.d')).toBe(true);
  });

  it('an empty grant list grants nothing; a Set works like an array', () => {
    expect(grants([], 'chat.send')).toBe(false);
    expect(grants(new Set(['chat.*']), 'chat.send')).toBe(true);
    expect(grants(new Set(['chat.*']), 'chatx')).toBe(false);
  });
});

describe('createPermissions', () => {
  it('expands roles into permissions, keeping explicit ones, without duplicates', () => {
    const perms = createPermissions({ roles: { user: ['chat.*'], mod: ['chat.*', 'mod.kick'] } });
    expect(perms.expand(['user', 'mod'], ['profile.read']).sort()).toEqual([
      'chat.*',
      'mod.kick',
      'profile.read',
    ]);
    expect(perms.expand(['unknown'], [])).toEqual([]);
  });

  it('does not treat Object.prototype names as roles', () => {
    const perms = createPermissions({ roles: { user: ['chat.send'] } });
    expect(perms.expand(['constructor', '__proto__', 'toString'], [])).toEqual([]);
  });

  it('answers canAccess true when no hook is configured', () => {
    expect(createPermissions().canAccess(principal([]), 'room:1')).toBe(true);
  });
});

describe('roles through createGuard', () => {
  it('expands the token roles with permissions.roles into the principal', async () => {
    const { guard, connect } = setup({
      permissions: { roles: { user: ['chat.*'], admin: ['*'] } },
    });
    const alice = await connect('alice', { roles: ['user'] });
    expect(alice.principal?.permissions).toEqual(['chat.*']);
    expect(guard.can(alice.principal!, 'chat.send')).toBe(true);
    expect(guard.can(alice.principal!, 'admin.kick')).toBe(false);
    const root = await connect('root', { roles: ['admin'] });
    expect(guard.can(root.principal!, 'admin.kick')).toBe(true);
  });

  it('keeps explicit token permissions (scope) beside role grants', async () => {
    const { guard, connect } = setup({ permissions: { roles: { user: ['chat.send'] } } });
    const c = await connect('alice', { role: 'user', scope: 'profile.read profile.write' });
    expect(guard.can(c.principal!, 'chat.send')).toBe(true);
    expect(guard.can(c.principal!, 'profile.write')).toBe(true);
    expect(guard.can(c.principal!, 'chat.delete')).toBe(false);
  });

  it('expands roles for verifyToken (HTTP endpoints) the same way', async () => {
    const { guard } = setup({ permissions: { roles: { user: ['chat.*'] } } });
    const p = await guard.verifyToken(await sign('alice', { roles: ['user'] }));
    expect(guard.can(p, 'chat.send')).toBe(true);
  });
});

describe('messages.permission hook', () => {
  const chatPermission = (m: unknown): string | undefined =>
    typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string'
      ? (m as { type: string }).type
      : undefined;

  it('delivers a message whose permission the user holds', async () => {
    const { guard, connect } = setup({
      permissions: { roles: { user: ['chat.*'] } },
      messages: { permission: chatPermission },
    });
    const c = await connect('alice', { roles: ['user'] });
    expect(await guard.message(c, '{"type":"chat.send"}')).toEqual({
      action: 'deliver',
      value: { type: 'chat.send' },
    });
  });

  it('answers FORBIDDEN and audits permission.denied once for a missing permission', async () => {
    const { guard, events, connect } = setup({
      permissions: { roles: { user: ['chat.*'] } },
      messages: { permission: chatPermission },
    });
    const c = await connect('alice', { roles: ['user'] });
    events.length = 0;
    const d = await guard.message(c, '{"type":"admin.kick"}');
    expect(d).toEqual({
      action: 'reply',
      reason: 'permission',
      reply: { error: { code: 'FORBIDDEN', message: 'permission required: admin.kick' } },
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'permission.denied',
      connectionId: c.id,
      userId: 'alice',
      ip: '203.0.113.9',
      detail: { permission: 'admin.kick' },
    });
    expect(guard.stats().messageRejections).toEqual({ permission: 1 });
  });

  it('checks nothing when the hook returns undefined', async () => {
    const { guard, connect } = setup({ messages: { permission: () => undefined } });
    const c = await connect('alice');
    expect((await guard.message(c, '{"type":"admin.kick"}')).action).toBe('deliver');
  });

  it('does not close the connection for permission denials (they are not malformed)', async () => {
    const { guard, connect } = setup({
      messages: { permission: () => 'admin', maxInvalid: 2 },
    });
    const c = await connect('alice');
    for (let i = 0; i < 5; i++) expect((await guard.message(c, '{}')).action).toBe('reply');
  });
});

describe('canAccess hook', () => {
  const room = (m: unknown): string | undefined =>
    typeof m === 'object' && m !== null ? (m as { room?: string }).room : undefined;

  it('guard.canAccess uses a synchronous hook', async () => {
    const { guard } = setup({
      permissions: { canAccess: (p, resource) => resource === `room:${p.sub}` },
    });
    expect(await guard.canAccess(principal([]), 'room:u1')).toBe(true);
    expect(await guard.canAccess(principal([]), 'room:u2')).toBe(false);
  });

  it('guard.canAccess awaits an asynchronous hook', async () => {
    const { guard } = setup({
      permissions: {
        canAccess: async (p, resource) => {
          await Promise.resolve();
          return resource === `room:${p.sub}`;
        },
      },
    });
    expect(await guard.canAccess(principal([]), 'room:u1')).toBe(true);
    expect(await guard.canAccess(principal([]), 'room:u2')).toBe(false);
  });

  it('guard.canAccess is true without a hook', async () => {
    const { guard } = setup();
    expect(await guard.canAccess(principal([]), 'anything')).toBe(true);
  });

  it('messages.resource with a sync hook: allowed delivers, denied replies FORBIDDEN and audits', async () => {
    const seen: [string, string][] = [];
    const { guard, events, connect } = setup({
      permissions: {
        canAccess: (p, resource) => {
          seen.push([p.sub, resource]);
          return resource === 'room:1';
        },
      },
      messages: { resource: room },
    });
    const c = await connect('alice');
    expect(await guard.message(c, '{"room":"room:1"}')).toEqual({
      action: 'deliver',
      value: { room: 'room:1' },
    });
    events.length = 0;
    expect(await guard.message(c, '{"room":"room:2"}')).toEqual({
      action: 'reply',
      reason: 'permission',
      reply: { error: { code: 'FORBIDDEN', message: 'access denied' } },
    });
    expect(seen).toEqual([
      ['alice', 'room:1'],
      ['alice', 'room:2'],
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'permission.denied',
      userId: 'alice',
      detail: { resource: 'room:2' },
    });
  });

  it('messages.resource with an async hook: the decision is awaited', async () => {
    const { guard, connect } = setup({
      permissions: {
        canAccess: async (_p, resource) => {
          await Promise.resolve();
          return resource === 'room:1';
        },
      },
      messages: { resource: room },
    });
    const c = await connect('alice');
    const allowed = guard.message(c, '{"room":"room:1"}');
    expect(allowed).toBeInstanceOf(Promise);
    expect((await allowed).action).toBe('deliver');
    const denied = await guard.message(c, '{"room":"room:2"}');
    expect(denied).toMatchObject({ action: 'reply', reason: 'permission' });
  });

  it('a message without a resource skips the hook', async () => {
    let calls = 0;
    const { guard, connect } = setup({
      permissions: {
        canAccess: () => {
          calls++;
          return false;
        },
      },
      messages: { resource: room },
    });
    const c = await connect('alice');
    expect((await guard.message(c, '{"text":"hi"}')).action).toBe('deliver');
    expect(calls).toBe(0);
  });

  it('a canAccess hook that rejects closes the connection with 1011 instead of rejecting', async () => {
    const errors: unknown[] = [];
    const { guard, connect } = setup({
      permissions: { canAccess: () => Promise.reject(new Error('db down')) },
      messages: { resource: room },
      onError: (e) => errors.push(e),
    });
    const c = await connect('alice');
    expect(await guard.message(c, '{"room":"room:1"}')).toMatchObject({
      action: 'close',
      code: 1011,
      reason: 'internal',
    });
    expect(errors).toHaveLength(1);
  });

  it('a canAccess hook that throws synchronously closes with 1011 too', async () => {
    const { guard, connect } = setup({
      permissions: {
        canAccess: () => {
          throw new Error('bug');
        },
      },
      messages: { resource: room },
      onError: () => {},
    });
    const c = await connect('alice');
    expect(await guard.message(c, '{"room":"room:1"}')).toMatchObject({
      action: 'close',
      code: 1011,
    });
  });
});
