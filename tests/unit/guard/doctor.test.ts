import { describe, expect, it } from 'vitest';
import {
  createGuard,
  createMemoryStore,
  diagnose,
  GuardConfigError,
  GuardError,
  type GuardOptions,
  isGuardError,
  type Store,
} from '../../../src/mod.ts';

const ORIGIN = 'https://app.example.com';
const jwt = { algorithms: ['HS256'], secret: 'k'.repeat(40) } as const;
const safe: GuardOptions = { origins: [ORIGIN], jwt, audit: false };

/** The problems `createGuard` throws for `options` (fails the test if it does not throw). */
function refused(options: GuardOptions): readonly string[] {
  try {
    createGuard(options);
  } catch (error) {
    expect(error).toBeInstanceOf(GuardConfigError);
    expect(isGuardError(error)).toBe(true);
    const e = error as GuardConfigError;
    expect(e.code).toBe('ERR_WSGUARD_CONFIG');
    expect(e.problems.length).toBeGreaterThan(0);
    for (const p of e.problems) expect(e.message).toContain(p);
    return e.problems;
  }
  throw new Error('createGuard accepted unsafe options');
}

function oneProblem(options: GuardOptions): string {
  const problems = refused(options);
  expect(problems).toHaveLength(1);
  return problems[0]!;
}

describe('createGuard refuses unsafe options with the fix', () => {
  it('accepts the safe baseline', () => {
    expect(diagnose(safe)).toEqual([]);
    expect(() => createGuard(safe)).not.toThrow();
  });

  it('a secret read from an unset environment variable: says that, not "give exactly one"', () => {
    const problems = refused({
      ...safe,
      jwt: { algorithms: ['HS256'], secret: process.env.WSGUARD_TEST_UNSET_SECRET! },
    });
    expect(problems.join('\n')).toMatch(/jwt\.secret is undefined.*environment variable/);
    expect(problems.join('\n')).not.toContain('give exactly one');
  });

  it('no origins: says to list them, with an example', () => {
    const p = oneProblem({ jwt, audit: false });
    expect(p).toMatch(/^origins: missing/);
    expect(p).toContain("origins: ['https://app.example.com']");
  });

  it('an empty origin list is never "allow all"', () => {
    expect(oneProblem({ ...safe, origins: [] })).toContain('empty');
  });

  it("'*' as an origin: points to dangerouslyAllowAnyOrigin or a real list", () => {
    const p = oneProblem({ ...safe, origins: ['*'] });
    expect(p).toContain("'*'");
    expect(p).toContain('dangerouslyAllowAnyOrigin: true');
  });

  it('a malformed origin: shows the expected form', () => {
    const p = oneProblem({ ...safe, origins: ['https://app.example.com/'] });
    expect(p).toContain('scheme://host[:port]');
  });

  it('a wildcard anywhere but the first label is refused', () => {
    expect(oneProblem({ ...safe, origins: ['https://app.*.example.com'] })).toContain('origins:');
  });

  it('no authentication: says to configure jwt or tickets, or allowAnonymous', () => {
    const p = oneProblem({ origins: [ORIGIN], audit: false });
    expect(p).toMatch(/^authentication:/);
    expect(p).toContain('jwt');
    expect(p).toContain('tickets');
    expect(p).toContain('allowAnonymous: true');
  });

  it('cookie auth without CSRF: says to add csrf.verify or opt out by name', () => {
    const p = oneProblem({ ...safe, credentials: { cookie: { name: 'session' } } });
    expect(p).toMatch(/^credentials\.cookie:/);
    expect(p).toContain('csrf: { verify }');
    expect(p).toContain('dangerouslyWithoutCsrf: true');
  });

  it('cookie auth with every origin allowed: refused as cross-site hijacking', () => {
    const p = oneProblem({
      dangerouslyAllowAnyOrigin: true,
      jwt,
      audit: false,
      credentials: { cookie: { name: 'session', csrf: { verify: () => true } } },
    });
    expect(p).toMatch(/^credentials\.cookie:/);
    expect(p).toContain('hijacking');
    expect(p).toContain('list your origins');
  });

  it('cookie auth with CSRF and an origin list is accepted', () => {
    expect(
      diagnose({
        ...safe,
        credentials: { cookie: { name: 'session', csrf: { verify: () => true } } },
      }),
    ).toEqual([]);
  });

  it('maxBytes: Infinity is refused as unbounded', () => {
    const p = oneProblem({ ...safe, messages: { maxBytes: Number.POSITIVE_INFINITY } });
    expect(p).toMatch(/^messages\.maxBytes: Infinity/);
    expect(p).toContain('positive integer');
  });

  it.each([
    ['maxBytes', 0],
    ['maxBytes', -1],
    ['maxBytes', 1.5],
    ['maxDepth', Number.NaN],
    ['maxEntries', Number.POSITIVE_INFINITY],
    ['maxIssues', 0],
    ['maxInvalid', -3],
  ] as const)('messages.%s = %s is refused', (key, value) => {
    expect(oneProblem({ ...safe, messages: { [key]: value } })).toContain(`messages.${key}`);
  });

  it.each([0, Number.POSITIVE_INFINITY, 60_001, -5])(
    'a first-message auth timeout of %s ms is refused with the maximum',
    (timeoutMs) => {
      const p = oneProblem({ ...safe, credentials: { firstMessage: { timeoutMs } } });
      expect(p).toMatch(/^credentials\.firstMessage\.timeoutMs:/);
      expect(p).toContain('at most 60000 ms');
    },
  );

  it('a first-message auth timeout within bounds is accepted', () => {
    expect(diagnose({ ...safe, credentials: { firstMessage: { timeoutMs: 60_000 } } })).toEqual([]);
    expect(diagnose({ ...safe, credentials: { firstMessage: true } })).toEqual([]);
  });

  it('a short HS secret is refused with the minimum length', () => {
    const p = oneProblem({ ...safe, jwt: { algorithms: ['HS256'], secret: 'short-secret' } });
    expect(p).toMatch(/^jwt\.secret: 12 bytes/);
    expect(p).toContain('at least 32 random bytes');
  });

  it('an empty HS secret is refused', () => {
    expect(oneProblem({ ...safe, jwt: { algorithms: ['HS256'], secret: '' } })).toContain(
      'jwt.secret',
    );
  });

  it('a PEM used as an HMAC secret is refused', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(64)}\n-----END PUBLIC KEY-----`;
    expect(oneProblem({ ...safe, jwt: { algorithms: ['HS256'], secret: pem } })).toContain(
      'publicKey',
    );
  });

  it.each([
    [{ connectRate: { limit: 0, windowMs: 1000 } }, 'limits.connectRate'],
    [{ messageRate: { limit: 10, windowMs: -1 } }, 'limits.messageRate'],
    [{ userMessageRate: { limit: 10, windowMs: 1000, burst: 0 } }, 'limits.userMessageRate'],
    [{ messageRate: { limit: Number.POSITIVE_INFINITY, windowMs: 1000 } }, 'limits.messageRate'],
    [{ connectRate: { limit: Number.NaN, windowMs: 1000 } }, 'limits.connectRate'],
  ] as const)('a bad rate rule %j is refused with how to turn it off', (limits, name) => {
    const p = oneProblem({ ...safe, limits });
    expect(p).toMatch(new RegExp(`^${name.replace('.', '\\.')}:`));
    expect(p).toContain('set false to turn it off');
  });

  it.each([
    ['maxConnectionsPerIp', 0],
    ['maxConnectionsPerUser', 2.5],
    ['leaseTtlMs', -1],
    ['closeAfterRateHits', Number.POSITIVE_INFINITY],
  ] as const)('limits.%s = %s is refused', (key, value) => {
    expect(oneProblem({ ...safe, limits: { [key]: value } })).toContain(`limits.${key}`);
  });

  it('limits switched off with false are accepted', () => {
    expect(
      diagnose({
        ...safe,
        limits: {
          connectRate: false,
          messageRate: false,
          userMessageRate: false,
          maxConnectionsPerIp: false,
          maxConnectionsPerUser: false,
        },
      }),
    ).toEqual([]);
  });

  it('requireSharedStore with the default memory store: says to use Redis', () => {
    const p = oneProblem({ ...safe, requireSharedStore: true });
    expect(p).toMatch(/^store:/);
    expect(p).toContain('Redis');
  });

  it('requireSharedStore with an explicit memory store: names the store and the fix', () => {
    const p = oneProblem({ ...safe, requireSharedStore: true, store: createMemoryStore() });
    expect(p).toContain('"memory" is not shared');
    expect(p).toContain('Redis');
  });

  it('requireSharedStore with a shared store is accepted', () => {
    const shared: Store = { ...createMemoryStore(), name: 'fake-shared', shared: true } as Store;
    expect(diagnose({ ...safe, requireSharedStore: true, store: shared })).toEqual([]);
  });

  it('a path binding without a parameter is refused with an example', () => {
    expect(oneProblem({ ...safe, pathBinding: '/ws/user' })).toContain("'/ws/:sub'");
  });

  it('token sources without jwt are refused', () => {
    const p = oneProblem({
      origins: [ORIGIN],
      tickets: true,
      audit: false,
      credentials: { query: true },
    });
    expect(p).toContain('need jwt');
  });

  it('ticket lifetimes beyond 30 s are refused', () => {
    expect(oneProblem({ ...safe, tickets: { ttlMs: 60_000 } })).toContain('tickets.ttlMs');
  });

  it('reports several problems at once, one per mistake', () => {
    const problems = refused({
      origins: ['*'],
      audit: false,
      credentials: { cookie: { name: 'sid' }, firstMessage: { timeoutMs: 0 } },
      messages: { maxBytes: Number.POSITIVE_INFINITY },
      limits: { connectRate: { limit: 0, windowMs: 0 } },
      requireSharedStore: true,
    });
    const prefixes = problems.map((p) => p.split(':')[0]);
    expect(prefixes).toEqual(
      expect.arrayContaining([
        'origins',
        'authentication',
        'credentials.cookie',
        'credentials.firstMessage.timeoutMs',
        'messages.maxBytes',
        'limits.connectRate',
        'store',
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(8);
  });

  it('diagnose returns the same list createGuard throws', () => {
    const options: GuardOptions = { origins: [], audit: false, messages: { maxDepth: 0 } };
    expect(refused(options)).toEqual(diagnose(options));
  });
});

describe('isGuardError', () => {
  it('recognises wsguard errors by brand, including ones from another copy of the package', () => {
    expect(isGuardError(new GuardConfigError(['x']))).toBe(true);
    expect(isGuardError(new GuardError('ERR_WSGUARD_STORE', 'down'))).toBe(true);
    const foreign = new Error('from another copy');
    Object.defineProperty(foreign, Symbol.for('wsguard.error'), { value: true });
    expect(isGuardError(foreign)).toBe(true);
  });

  it('rejects everything else', () => {
    expect(isGuardError(new Error('plain'))).toBe(false);
    expect(isGuardError(new TypeError('x'))).toBe(false);
    expect(isGuardError({ code: 'ERR_WSGUARD_CONFIG' })).toBe(false);
    expect(isGuardError(null)).toBe(false);
    expect(isGuardError(undefined)).toBe(false);
    expect(isGuardError('ERR_WSGUARD_CONFIG')).toBe(false);
  });
});

/** Options as a config file might hold them: not checked by the compiler. */
const untyped = (options: Record<PropertyKey, unknown>): GuardOptions =>
  options as unknown as GuardOptions;

describe('createGuard refuses unknown option keys at every level, with the nearest valid name', () => {
  it('messages.maxMessageSize: says messages.maxBytes (the defence would be silently missing)', () => {
    expect(oneProblem(untyped({ ...safe, messages: { maxMessageSize: 1024 } }))).toBe(
      'messages.maxMessageSize: unknown option; did you mean "messages.maxBytes"?',
    );
  });

  it('maxMessageSize at the top level: the best match across levels, messages.maxBytes', () => {
    expect(oneProblem(untyped({ ...safe, maxMessageSize: 1024 }))).toBe(
      'maxMessageSize: unknown option; did you mean "messages.maxBytes"?',
    );
  });

  it.each([
    [{ requireSecures: true }, 'requireSecures', 'requireSecure'],
    [{ jwt: { ...jwt, issuers: 'i' } }, 'jwt.issuers', 'jwt.issuer'],
    [{ tickets: { bindOrign: true } }, 'tickets.bindOrign', 'tickets.bindOrigin'],
    [{ credentials: { header: true, qurey: true } }, 'credentials.qurey', 'credentials.query'],
    [
      { credentials: { ticket: { params: 't' } } },
      'credentials.ticket.params',
      'credentials.ticket.param',
    ],
    [
      { credentials: { query: { parm: 't' } } },
      'credentials.query.parm',
      'credentials.query.param',
    ],
    [
      { credentials: { subprotocol: { prefixes: 'b.' } } },
      'credentials.subprotocol.prefixes',
      'credentials.subprotocol.prefix',
    ],
    [
      { credentials: { firstMessage: { timeOutMs: 100 } } },
      'credentials.firstMessage.timeOutMs',
      'credentials.firstMessage.timeoutMs',
    ],
    [
      { credentials: { cookie: { name: 's', csrf: { verify: () => true, parma: 'c' } } } },
      'credentials.cookie.csrf.parma',
      'credentials.cookie.csrf.param',
    ],
    [
      { limits: { maxConnectionPerIp: 1 } },
      'limits.maxConnectionPerIp',
      'limits.maxConnectionsPerIp',
    ],
    [
      { limits: { messageRate: { limit: 1, windowMs: 1000, bursts: 2 } } },
      'limits.messageRate.bursts',
      'limits.messageRate.burst',
    ],
    [{ messages: { maxDept: 4 } }, 'messages.maxDept', 'messages.maxDepth'],
    [{ penalties: { treshold: 5 } }, 'penalties.treshold', 'penalties.threshold'],
    [{ penalties: { points: { csfr: 9 } } }, 'penalties.points.csfr', 'penalties.points.csrf'],
    [{ rejectModes: { bannned: 'close' } }, 'rejectModes.bannned', 'rejectModes.banned'],
    [{ permissions: { canAcces: () => true } }, 'permissions.canAcces', 'permissions.canAccess'],
  ] as const)('%j is refused as %s, did you mean %s', (extra, path, suggestion) => {
    expect(oneProblem(untyped({ ...safe, ...extra }))).toBe(
      `${path}: unknown option; did you mean "${suggestion}"?`,
    );
  });

  it('a misspelled required option is named first, beside the problem it causes', () => {
    const problems = refused(untyped({ origin: [ORIGIN], jwt, audit: false }));
    expect(problems[0]).toBe('origin: unknown option; did you mean "origins"?');
    expect(problems[1]).toMatch(/^origins: missing/);
  });

  it('role names, stores and schemas are user data: never checked', () => {
    expect(
      diagnose({
        ...safe,
        permissions: { roles: { maxMessageSize: ['chat.*'], constructor: ['x'] } },
        store: Object.assign(createMemoryStore(), { custom: true }),
      }),
    ).toEqual([]);
  });

  it('a key under a known key whose value is not an object is refused', () => {
    expect(oneProblem(untyped({ ...safe, credentials: { header: { name: 'x-token' } } }))).toBe(
      'credentials.header.name: unknown option; credentials.header takes a value, not nested options',
    );
  });

  it('prototype names and symbols are unknown keys too (a JSON config can hold __proto__)', () => {
    const config = JSON.parse(
      `{"origins": ["${ORIGIN}"], "allowAnonymous": true, "audit": false, "__proto__": {"dangerouslyAllowAnyOrigin": true}, "limits": {"constructor": 1, "toString": 2}}`,
    ) as Record<PropertyKey, unknown>;
    const problems = refused(untyped({ ...config, [Symbol('dryRun')]: true }));
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      '__proto__',
      'limits.constructor',
      'limits.toString',
      '[Symbol(dryRun)]',
    ]);
  });

  it("GuardConfigError's message stays one line per problem", () => {
    try {
      createGuard(
        untyped({ ...safe, 'two\nlines': 1, messages: { maxbytes: 1, [`${'x'.repeat(500)}`]: 2 } }),
      );
      expect.unreachable('createGuard accepted unknown keys');
    } catch (error) {
      const e = error as GuardConfigError;
      expect(e.problems).toHaveLength(3);
      const lines = e.message.split('\n');
      expect(lines).toHaveLength(1 + e.problems.length);
      for (const [i, p] of e.problems.entries()) expect(lines[i + 1]).toBe(`  - ${p}`);
    }
  });
});
