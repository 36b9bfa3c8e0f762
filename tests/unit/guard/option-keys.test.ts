/**
 * `unknownKeys` and the guard's key table: every unknown key at every level is one problem with
 * its full path and the nearest valid name; user data is never walked; a complete, valid set of
 * options gives no problem at all.
 */
import { describe, expect, it } from 'vitest';
import { REJECTIONS } from '../../../src/core/codes.ts';
import {
  GUARD_OPTION_ALIASES,
  GUARD_OPTION_KEYS,
  type KeyRule,
  type KeyTable,
} from '../../../src/guard/option-keys.ts';
import { unknownKeys } from '../../../src/guard/option-unknown-keys.ts';
import type { GuardOptions } from '../../../src/guard/options.ts';
import { DEFAULT_POINTS } from '../../../src/state/penalties.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';

/** The guard's own check, as `diagnose` runs it. */
const check = (options: unknown): string[] =>
  unknownKeys(options, GUARD_OPTION_KEYS, '', GUARD_OPTION_ALIASES);

/** The table node at a dotted path, or undefined. */
function ruleAt(path: string): KeyRule | undefined {
  let rule: KeyRule | undefined = GUARD_OPTION_KEYS;
  for (const part of path.split('.')) {
    if (typeof rule !== 'object' || !Object.hasOwn(rule, part)) return undefined;
    rule = rule[part];
  }
  return rule;
}

const schema = {
  '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) },
} as const;

/** Every option at every level set, every object form chosen: must give no problem. */
const everything: Required<GuardOptions> = {
  origins: ['https://app.example.com'],
  missingOrigin: 'deny',
  nullOrigin: 'deny',
  dangerouslyAllowAnyOrigin: false,
  jwt: {
    algorithms: ['ES256'],
    // A JWK carries its own keys (kty, crv, x, y, kid...): user data, never walked.
    publicKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', use: 'sig' },
    issuer: ['https://issuer.example'],
    audience: 'api',
    typ: 'at+jwt',
    clockToleranceSec: 5,
    principal: () => undefined,
  },
  tickets: { ttlMs: 10_000, bindIp: true, bindOrigin: true },
  credentials: {
    ticket: { param: 't' },
    query: { param: 'tok' },
    header: true,
    cookie: {
      name: 'sid',
      csrf: { param: 'c', verify: () => true },
      dangerouslyWithoutCsrf: false,
    },
    subprotocol: { prefix: 'bearer.' },
    firstMessage: { timeoutMs: 5000, extract: () => undefined },
  },
  allowAnonymous: false,
  pathBinding: '/ws/:sub',
  ipv6Prefix: 64,
  store: createMemoryStore(),
  requireSharedStore: false,
  limits: {
    connectRate: { limit: 1, windowMs: 1000, burst: 2 },
    messageRate: { limit: 1, windowMs: 1000 },
    userMessageRate: false,
    maxConnectionsPerIp: 5,
    maxConnectionsPerUser: false,
    maxPendingHandshakes: 64,
    singleSession: true,
    leaseTtlMs: 30_000,
    closeAfterRateHits: 3,
    onStoreError: 'local',
  },
  messages: {
    maxBytes: 1024,
    maxDepth: 8,
    maxEntries: 100,
    maxIssues: 3,
    json: true,
    passthrough: ['PING'],
    schema,
    permission: () => undefined,
    resource: () => undefined,
    maxInvalid: 2,
  },
  // Role names are the application's: anything goes, including names that look like typos.
  permissions: {
    roles: { admin: ['*'], maxMessageSize: ['x'], constructor: ['y'] },
    canAccess: () => true,
  },
  penalties: {
    threshold: 10,
    halfLifeMs: 1000,
    banMs: 1000,
    points: { ...DEFAULT_POINTS },
  },
  audit: () => {},
  dryRun: false,
  requireSecure: true,
  rejectModes: Object.fromEntries(Object.keys(REJECTIONS).map((r) => [r, 'close'])),
  retryAfterUnavailableSec: 5,
  reconnectWindowMs: 0,
  onError: () => {},
  principal: (p) => p,
  now: Date.now,
};

describe('the guard key table', () => {
  it('a complete, valid set of options has no unknown key', () => {
    expect(check(everything)).toEqual([]);
    // The other shapes of the same options.
    expect(
      check({
        ...everything,
        jwt: { algorithms: ['HS256'], secret: new Uint8Array(32) },
        tickets: true,
        credentials: { ticket: true, query: false, subprotocol: true, firstMessage: true },
        penalties: false,
        audit: 'console',
      }),
    ).toEqual([]);
    expect(
      check({ ...everything, jwt: { algorithms: ['RS256'], jwks: { keys: [{ kty: 'RSA' }] } } }),
    ).toEqual([]);
    expect(
      check({
        ...everything,
        jwt: { algorithms: ['RS256'], jwks: new URL('https://i.example/jwks') },
      }),
    ).toEqual([]);
  });

  it('points and rejectModes list exactly the runtime tables (DEFAULT_POINTS, REJECTIONS)', () => {
    expect(Object.keys(ruleAt('penalties.points') as KeyTable).sort()).toEqual(
      Object.keys(DEFAULT_POINTS).sort(),
    );
    expect(Object.keys(ruleAt('rejectModes') as KeyTable).sort()).toEqual(
      Object.keys(REJECTIONS).sort(),
    );
  });

  it('every alias points at a real option', () => {
    for (const [alias, target] of Object.entries(GUARD_OPTION_ALIASES)) {
      expect(ruleAt(target), `${alias} -> ${target}`).toBeDefined();
      // An alias that is itself an option name at the top level would shadow nothing: keep them apart.
      expect(Object.hasOwn(GUARD_OPTION_KEYS, alias), alias).toBe(false);
    }
  });
});

describe('unknownKeys: each unknown key, with its full path and the nearest valid name', () => {
  it.each([
    [{ messages: { maxMessageSize: 1 } }, 'messages.maxMessageSize', 'messages.maxBytes'],
    [{ maxMessageSize: 1 }, 'maxMessageSize', 'messages.maxBytes'],
    [{ maxPayload: 1 }, 'maxPayload', 'messages.maxBytes'],
    [{ messages: { MAXBYTES: 1 } }, 'messages.MAXBYTES', 'messages.maxBytes'],
    [{ origin: ['x'] }, 'origin', 'origins'],
    [{ allowedOrigins: ['x'] }, 'allowedOrigins', 'origins'],
    [{ dryrun: true }, 'dryrun', 'dryRun'],
    [{ jwt: { algorithm: ['HS256'] } }, 'jwt.algorithm', 'jwt.algorithms'],
    [{ jwt: { clockTolerance: 5 } }, 'jwt.clockTolerance', 'jwt.clockToleranceSec'],
    [{ tickets: { ttl: 1 } }, 'tickets.ttl', 'tickets.ttlMs'],
    [{ tickets: { bindIP: true, bindorigin: true } }, 'tickets.bindIP', 'tickets.bindIp'],
    [{ credentials: { headers: true } }, 'credentials.headers', 'credentials.header'],
    [
      { credentials: { ticket: { parm: 'x' } } },
      'credentials.ticket.parm',
      'credentials.ticket.param',
    ],
    [
      { credentials: { query: { name: 'x' } } },
      'credentials.query.name',
      'credentials.cookie.name',
    ],
    [
      { credentials: { cookie: { name: 's', csrf: { verfy: () => true } } } },
      'credentials.cookie.csrf.verfy',
      'credentials.cookie.csrf.verify',
    ],
    [
      { credentials: { cookie: { name: 's', dangerouslyWithoutCSRF: true } } },
      'credentials.cookie.dangerouslyWithoutCSRF',
      'credentials.cookie.dangerouslyWithoutCsrf',
    ],
    [
      { credentials: { subprotocol: { prefx: 'b.' } } },
      'credentials.subprotocol.prefx',
      'credentials.subprotocol.prefix',
    ],
    [
      { credentials: { firstMessage: { timeout: 1000 } } },
      'credentials.firstMessage.timeout',
      'credentials.firstMessage.timeoutMs',
    ],
    [{ limits: { maxConnections: 5 } }, 'limits.maxConnections', 'limits.maxConnectionsPerIp'],
    [
      { limits: { connectRate: { limit: 1, window: 1 } } },
      'limits.connectRate.window',
      'limits.connectRate.windowMs',
    ],
    [
      { limits: { userMessageRate: { limit: 1, windowMs: 1, brust: 1 } } },
      'limits.userMessageRate.brust',
      'limits.userMessageRate.burst',
    ],
    [{ limits: { burst: 1 } }, 'limits.burst', 'limits.connectRate.burst'],
    [{ penalties: { halfLife: 1 } }, 'penalties.halfLife', 'penalties.halfLifeMs'],
    [
      { penalties: { points: { forged: 1, toobig: 1 } } },
      'penalties.points.toobig',
      'penalties.points.too_big',
    ],
    [
      { penalties: { points: { credential_invalid: 1 } } },
      'penalties.points.credential_invalid',
      'penalties.points.credentials_invalid',
    ],
    [{ tickets: { bnidIp: true } }, 'tickets.bnidIp', 'tickets.bindIp'],
    [{ rejectModes: { orign: 'close' } }, 'rejectModes.orign', 'rejectModes.origin'],
    [
      { rejectModes: { 'credentials-invalid': 'close' } },
      'rejectModes["credentials-invalid"]',
      'rejectModes.credentials_invalid',
    ],
    [{ permissions: { role: {} } }, 'permissions.role', 'permissions.roles'],
  ] as const)('%j -> %s, did you mean %s', (options, path, suggestion) => {
    const problems = check(options);
    expect(problems).toContain(`${path}: unknown option; did you mean "${suggestion}"?`);
  });

  it('one problem per unknown key, none for the known ones beside them', () => {
    expect(
      check({ messages: { maxBytes: 1, maxbytes: 2, maxDepht: 3 }, limits: { leaseTTLMs: 1 } }),
    ).toEqual([
      'messages.maxbytes: unknown option; did you mean "messages.maxBytes"?',
      'messages.maxDepht: unknown option; did you mean "messages.maxDepth"?',
      'limits.leaseTTLMs: unknown option; did you mean "limits.leaseTtlMs"?',
    ]);
  });

  it('a name close to nothing lists the valid names of its level', () => {
    expect(check({ limits: { zzz: 1 } })).toEqual([
      `limits.zzz: unknown option; the options of limits are ${Object.keys(ruleAt('limits') as KeyTable).join(', ')}`,
    ]);
    const [top] = check({ qqqqqqqq: 1 });
    expect(top).toMatch(
      /^qqqqqqqq: unknown option; the top-level options are origins, missingOrigin, /,
    );
  });

  it('a key under a known key that takes a value, not an object, is refused without a guess', () => {
    expect(check({ credentials: { header: { param: 'x' } } })).toEqual([
      'credentials.header.param: unknown option; credentials.header takes a value, not nested options',
    ]);
    expect(check({ messages: { maxBytes: { max: 1 } }, dryRun: { enabled: true } })).toEqual([
      'messages.maxBytes.max: unknown option; messages.maxBytes takes a value, not nested options',
      'dryRun.enabled: unknown option; dryRun takes a value, not nested options',
    ]);
    // Functions, arrays and class instances under a value are not walked.
    expect(
      check({ origins: ['a'], onError: Object.assign(() => {}, { extra: 1 }), now: Date.now }),
    ).toEqual([]);
  });

  it('an array where an options object belongs is refused (it would read as "nothing set")', () => {
    expect(check({ limits: [{ connectRate: false }] })).toEqual([
      'limits: expected an options object, not an array',
    ]);
    expect(check([])).toEqual(['options: expected an options object, not an array']);
  });

  it('prototype names are unknown: an own __proto__ (JSON.parse), constructor, toString, hasOwnProperty', () => {
    const parsed = JSON.parse(
      '{"__proto__": {"allowAnonymous": true}, "messages": {"constructor": 1, "toString": 2, "hasOwnProperty": 3, "__proto__": {}}}',
    ) as unknown;
    const problems = check(parsed);
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      '__proto__',
      'messages.constructor',
      'messages.toString',
      'messages.hasOwnProperty',
      'messages.__proto__',
    ]);
    for (const p of problems) expect(p).toContain('unknown option');
    // The walk writes nothing: the parsed object is unchanged and no prototype was set.
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed as object)).toEqual(['__proto__', 'messages']);
  });

  it('a misspelled key inherited through the prototype chain is caught (the guard would read it)', () => {
    const base = { messages: { maxBytes: 1 }, maxMesageSize: 5 };
    const options = Object.assign(Object.create(base) as object, { origins: ['x'] });
    expect(check(options)).toEqual([
      'maxMesageSize: unknown option; did you mean "messages.maxBytes"?',
    ]);
    // Non-enumerable keys (framework metadata) are not options and are left alone.
    const tagged = Object.defineProperty({ origins: ['x'] }, '__ob__', {
      value: {},
      enumerable: false,
    });
    expect(check(tagged)).toEqual([]);
  });

  it('symbol keys: an enumerable one is refused (never an option), a non-enumerable one ignored', () => {
    const options = { origins: ['x'], messages: { [Symbol('maxBytes')]: 1 }, [Symbol()]: true };
    Object.defineProperty(options, Symbol.toStringTag, { value: 'Config', enumerable: false });
    expect(check(options)).toEqual([
      'messages[Symbol(maxBytes)]: unknown option; a symbol key is never an option; did you mean "messages.maxBytes"?',
      '[Symbol()]: unknown option; a symbol key is never an option',
    ]);
  });

  it('user data is never walked: roles, store, schema, JWK, JWKS, secret bytes', () => {
    const store = Object.assign(createMemoryStore(), { extraMethod: () => 1 });
    expect(
      check({
        permissions: { roles: { anyRoleName: ['a'], 'with space': ['b'], __proto__: ['c'] } },
        store,
        messages: { schema: { ...schema, whatever: 1 } },
        jwt: { algorithms: ['ES256'], publicKey: { kty: 'EC', crv: 'P-256', unknownField: 1 } },
      }),
    ).toEqual([]);
  });

  it('every problem is one line: odd keys are quoted and escaped, long ones cut', () => {
    const long = 'k'.repeat(10_000);
    const problems = check({ 'line\nbreak': 1, messages: { [long]: 1 }, [Symbol('a\nb')]: 1 });
    expect(problems).toHaveLength(3);
    for (const p of problems) {
      expect(p).not.toContain('\n');
      expect(p.length).toBeLessThan(600);
    }
    expect(problems[0]).toMatch(/^\["line\\nbreak"\]: unknown option/);
    expect(problems[1]).toMatch(/^messages\.k{64}…: unknown option/);
    expect(problems[2]).toMatch(/^\[Symbol\(a\\nb\)\]: unknown option/);
  });

  it('past ten unknown keys in one object, the rest are counted in one line', () => {
    const junk = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`junk${i}`, i]));
    const started = performance.now();
    const problems = check({ limits: junk });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(problems).toHaveLength(11);
    expect(problems[10]).toBe('limits: 990 more unknown options not listed');
  });

  it('a throwing getter or proxy is reported, not thrown', () => {
    const getter = Object.defineProperty({}, 'limits', {
      enumerable: true,
      get() {
        throw new Error('boom\nsecond line');
      },
    });
    expect(check(getter)).toEqual(['limits: cannot be read (Error: boom\\nsecond line)']);
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(check({ messages: proxy })).toEqual([
      'messages: its keys cannot be listed (Error: no keys)',
    ]);
  });

  it('a cyclic options object ends (the walk follows the table, not the value)', () => {
    const cyclic: Record<string, unknown> = { origins: ['x'] };
    cyclic.limits = cyclic;
    const problems = check(cyclic);
    expect(problems).toContain('limits.origins: unknown option; did you mean "origins"?');
    expect(problems.length).toBeLessThan(5);
  });

  it('prototype pollution is reported once, even for a known option name', () => {
    Object.defineProperty(Object.prototype, 'allowAnonymous', {
      value: true,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      expect(check({ origins: ['x'], messages: { maxBytes: 1 } })).toEqual([
        "Object.prototype.allowAnonymous: set on every object's prototype (prototype pollution), so every options object inherits it; find what assigns it",
      ]);
    } finally {
      delete (Object.prototype as Record<string, unknown>).allowAnonymous;
    }
    expect(check({ origins: ['x'] })).toEqual([]);
  });

  it('is reusable for other options objects: own table, path prefix, no aliases', () => {
    const table: KeyTable = { port: 'value', tls: { cert: 'value', key: 'value' } };
    expect(unknownKeys({ port: 1, tls: { cert: 'c', kye: 'k' }, prot: 2 }, table, 'serve')).toEqual(
      [
        'serve.tls.kye: unknown option; did you mean "serve.tls.key"?',
        'serve.prot: unknown option; did you mean "serve.port"?',
      ],
    );
    expect(unknownKeys(undefined, table)).toEqual([]);
    expect(unknownKeys('text', table)).toEqual([]);
  });
});
