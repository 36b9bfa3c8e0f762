/**
 * The origin bypass matrix: every classic trick for slipping a foreign page past an origin
 * allowlist, checked against the matcher itself and through `createGuard().upgrade()`, plus the
 * start-up doctor's refusal of allowlists that are empty, missing or mistyped.
 */
import { describe, expect, it } from 'vitest';
import {
  type Accept,
  createGuard,
  createOriginMatcher,
  GuardConfigError,
  type GuardOptions,
  type Reject,
} from '../../../src/mod.ts';

const APP = 'https://app.example.com';

/** A guard that isolates the origin check: anonymous sockets, no rate limits or penalties. */
function originGuard(options: Partial<GuardOptions> = {}) {
  return createGuard({
    origins: [APP],
    allowAnonymous: true,
    audit: false,
    penalties: false,
    limits: { connectRate: false },
    ...options,
  });
}

async function upgradeWith(
  guard: ReturnType<typeof createGuard>,
  origin: string | undefined,
): Promise<Accept | Reject> {
  const headers: Record<string, string> = {};
  if (origin !== undefined) headers['origin'] = origin;
  return guard.upgrade({
    request: new Request('http://localhost/ws', { headers }),
    ip: '203.0.113.7',
  });
}

function expectOriginRejection(decision: Accept | Reject): void {
  expect(decision.ok).toBe(false);
  if (decision.ok) return;
  expect(decision.status).toBe(403);
  expect(decision.reason).toBe('origin');
  expect(decision.closeCode).toBe(4003);
  expect(decision.mode).toBe('http');
}

/** The problems `createGuard` reports for `options`; fails the test when it does not throw. */
function configProblems(options: GuardOptions): readonly string[] {
  try {
    createGuard({ audit: false, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(GuardConfigError);
    return (error as GuardConfigError).problems;
  }
  throw new Error('createGuard accepted options it should have refused');
}

/** Origins that must be refused by an allowlist of exactly `https://app.example.com`. */
const FOREIGN_TO_APP: readonly [string, string][] = [
  [
    'suffix attack: allowed host as a prefix of a foreign domain',
    'https://app.example.com.evil.io',
  ],
  ['subdomain of an exact entry', 'https://evil.app.example.com'],
  ['label glued on the front', 'https://evilapp.example.com'],
  ['hyphenated look-alike', 'https://evil-app.example.com'],
  ['parent domain of an exact entry', 'https://example.com'],
  ['scheme downgrade to http', 'http://app.example.com'],
  ['ws scheme instead of https', 'ws://app.example.com'],
  ['wss scheme (a different scheme, even with the same default port)', 'wss://app.example.com'],
  ['wrong port', 'https://app.example.com:8443'],
  ['port 80 on https', 'https://app.example.com:80'],
  ['trailing dot (a distinct origin to a browser)', 'https://app.example.com.'],
  ['leading dot', 'https://.app.example.com'],
  ['empty label', 'https://app..example.com'],
  ['userinfo before the allowed host', 'https://user@app.example.com'],
  ['allowed host as userinfo of a foreign host', 'https://app.example.com@evil.io'],
  ['userinfo with password', 'https://app.example.com:pw@evil.io'],
  ['trailing slash', 'https://app.example.com/'],
  ['path', 'https://app.example.com/path'],
  ['query', 'https://app.example.com?x=1'],
  ['fragment', 'https://app.example.com#x'],
  ['backslash path', 'https://app.example.com\\@evil.io'],
  ['percent-encoded dot', 'https://app%2Eexample.com'],
  ['embedded whitespace', 'https://app.example.com evil.io'],
  ['embedded tab', 'https://app.example.com\t.evil.io'],
  ['port out of range', 'https://app.example.com:70000'],
  ['port zero', 'https://app.example.com:0'],
  ['empty port', 'https://app.example.com:'],
  ['no scheme', 'app.example.com'],
  ['scheme-relative', '//app.example.com'],
  ['unknown scheme', 'ftp://app.example.com'],
  ['javascript scheme', 'javascript://app.example.com'],
  ['file scheme', 'file://app.example.com'],
  ['comma-joined list of origins', 'https://app.example.com,https://evil.io'],
  ['space-joined list of origins', 'https://app.example.com https://evil.io'],
  ['empty string', ''],
  ['wildcard sent by a client', 'https://*.example.com'],
  ['bare star', '*'],
  ['unicode look-alike (Cyrillic a)', 'https://\u0430pp.example.com'],
  ['foreign origin in upper case', 'HTTPS://APP.EXAMPLE.COM.EVIL.IO'],
  ['foreign subdomain in upper case', 'HTTPS://EVIL.APP.EXAMPLE.COM'],
];

describe('origin matcher: exact entries', () => {
  const matcher = createOriginMatcher({ allow: [APP] });

  it('accepts the exact allowed origin', () => {
    expect(matcher.check(APP)).toBe(true);
  });

  it('accepts an explicit :443 on https because it is the same origin tuple (scheme, host, port)', () => {
    expect(matcher.check('https://app.example.com:443')).toBe(true);
  });

  it('accepts the allowed origin in upper or mixed case because scheme and host are case-insensitive', () => {
    expect(matcher.check('HTTPS://APP.EXAMPLE.COM')).toBe(true);
    expect(matcher.check('https://App.Example.Com')).toBe(true);
    expect(matcher.check('HtTpS://aPp.ExAmPlE.cOm:443')).toBe(true);
  });

  it('matches allowlist entries written in upper case against lower-case headers', () => {
    const m = createOriginMatcher({ allow: ['HTTPS://APP.EXAMPLE.COM'] });
    expect(m.check(APP)).toBe(true);
    expect(m.check('https://app.example.com.evil.io')).toBe(false);
  });

  for (const [name, origin] of FOREIGN_TO_APP) {
    it(`refuses ${name}: ${JSON.stringify(origin)}`, () => {
      expect(matcher.check(origin)).toBe(false);
    });
  }

  it('refuses leading or trailing whitespace around an otherwise allowed origin', () => {
    expect(matcher.check(' https://app.example.com')).toBe(false);
    expect(matcher.check('https://app.example.com ')).toBe(false);
    expect(matcher.check('https://app.example.com\n')).toBe(false);
    expect(matcher.check('https://app.example.com\r\nX-Evil: 1')).toBe(false);
  });

  it('refuses a NUL byte after the allowed origin', () => {
    expect(matcher.check('https://app.example.com\u0000.evil.io')).toBe(false);
  });

  it('honours a non-default port only when listed, and a listed port only exactly', () => {
    const m = createOriginMatcher({ allow: ['http://localhost:5173'] });
    expect(m.check('http://localhost:5173')).toBe(true);
    expect(m.check('http://localhost')).toBe(false);
    expect(m.check('http://localhost:80')).toBe(false);
    expect(m.check('http://localhost:5174')).toBe(false);
    expect(m.check('https://localhost:5173')).toBe(false);
    expect(m.check('http://localhost:51730')).toBe(false);
  });

  it('accepts an explicit :80 on http because it is the default port of the scheme', () => {
    const m = createOriginMatcher({ allow: ['http://localhost'] });
    expect(m.check('http://localhost:80')).toBe(true);
    expect(m.check('http://localhost:8080')).toBe(false);
  });

  it('refuses a very long header without accepting it by prefix', () => {
    expect(matcher.check(`${APP}${'a'.repeat(100_000)}`)).toBe(false);
    expect(matcher.check(`${APP}.${'a'.repeat(100_000)}.evil.io`)).toBe(false);
    expect(matcher.check(`https://${'a.'.repeat(50_000)}app.example.com`)).toBe(false);
    expect(matcher.check(`https://${'a'.repeat(1_000_000)}`)).toBe(false);
  });
});

describe('origin matcher: null and missing Origin', () => {
  it('refuses the string "null" by default', () => {
    expect(createOriginMatcher({ allow: [APP] }).check('null')).toBe(false);
  });

  it('accepts the string "null" only when the null policy is allow', () => {
    expect(createOriginMatcher({ allow: [APP], null: 'allow' }).check('null')).toBe(true);
    expect(createOriginMatcher({ allow: [APP], null: 'deny' }).check('null')).toBe(false);
  });

  it('does not treat "NULL" or "null " as the null origin', () => {
    const m = createOriginMatcher({ allow: [APP], null: 'allow' });
    expect(m.check('NULL')).toBe(false);
    expect(m.check('null ')).toBe(false);
    expect(m.check('nullx')).toBe(false);
  });

  it('lets a handshake without Origin through by default (non-browser clients still need credentials)', () => {
    expect(createOriginMatcher({ allow: [APP] }).check(null)).toBe(true);
  });

  it('refuses a handshake without Origin when the missing policy is deny', () => {
    expect(createOriginMatcher({ allow: [APP], missing: 'deny' }).check(null)).toBe(false);
  });

  it('keeps the null and missing policies independent', () => {
    const m = createOriginMatcher({ allow: [APP], null: 'allow', missing: 'deny' });
    expect(m.check('null')).toBe(true);
    expect(m.check(null)).toBe(false);
  });
});

describe('origin matcher: one-label wildcards', () => {
  const matcher = createOriginMatcher({ allow: ['https://*.example.com'] });

  it('accepts exactly one label in front of the base', () => {
    expect(matcher.check('https://a.example.com')).toBe(true);
    expect(matcher.check('https://app.example.com')).toBe(true);
    expect(matcher.check('https://APP.EXAMPLE.COM')).toBe(true);
    expect(matcher.check('https://a.example.com:443')).toBe(true);
  });

  it('does not match the apex domain', () => {
    expect(matcher.check('https://example.com')).toBe(false);
  });

  it('does not match two labels in front of the base', () => {
    expect(matcher.check('https://a.b.example.com')).toBe(false);
    expect(matcher.check('https://evil.app.example.com')).toBe(false);
  });

  it('does not match when the base is followed by a foreign domain', () => {
    expect(matcher.check('https://x.example.com.evil.io')).toBe(false);
    expect(matcher.check('https://x.example.comevil.io')).toBe(false);
  });

  it('does not match a label glued to the base without a dot', () => {
    expect(matcher.check('https://evilexample.com')).toBe(false);
  });

  it('does not match an empty label, a trailing dot or a leading dot', () => {
    expect(matcher.check('https://.example.com')).toBe(false);
    expect(matcher.check('https://a.example.com.')).toBe(false);
    expect(matcher.check('https://a..example.com')).toBe(false);
  });

  it('keeps the scheme and port of the wildcard entry', () => {
    expect(matcher.check('http://a.example.com')).toBe(false);
    expect(matcher.check('https://a.example.com:8443')).toBe(false);
    const withPort = createOriginMatcher({ allow: ['https://*.example.com:8443'] });
    expect(withPort.check('https://a.example.com:8443')).toBe(true);
    expect(withPort.check('https://a.example.com')).toBe(false);
  });

  it('never matches an IPv6 host or a client-sent wildcard', () => {
    expect(matcher.check('https://[::1]')).toBe(false);
    expect(matcher.check('https://*.example.com')).toBe(false);
  });

  it('does not let an exact entry widen a wildcard, nor a wildcard widen an exact entry', () => {
    const m = createOriginMatcher({ allow: ['https://*.example.com', 'https://example.org'] });
    expect(m.check('https://example.org')).toBe(true);
    expect(m.check('https://a.example.org')).toBe(false);
    expect(m.check('https://a.example.com')).toBe(true);
    expect(m.check('https://example.com')).toBe(false);
  });
});

describe('origin matcher: IPv6 bracket hosts', () => {
  const matcher = createOriginMatcher({ allow: ['http://[::1]:8080', 'https://[2001:db8::1]'] });

  it('accepts the listed bracket hosts with their ports', () => {
    expect(matcher.check('http://[::1]:8080')).toBe(true);
    expect(matcher.check('https://[2001:db8::1]')).toBe(true);
    expect(matcher.check('https://[2001:DB8::1]:443')).toBe(true);
  });

  it('refuses another address, another port and malformed brackets', () => {
    expect(matcher.check('http://[::2]:8080')).toBe(false);
    expect(matcher.check('http://[::1]')).toBe(false);
    expect(matcher.check('http://[::1]:8081')).toBe(false);
    expect(matcher.check('http://::1:8080')).toBe(false);
    expect(matcher.check('http://[::1:8080')).toBe(false);
    expect(matcher.check('http://[::1]]:8080')).toBe(false);
    expect(matcher.check('http://[::1]evil.io:8080')).toBe(false);
    expect(matcher.check('http://[::1].evil.io:8080')).toBe(false);
    expect(matcher.check('http://[::1%25eth0]:8080')).toBe(false);
  });
});

describe('origin matcher: dangerouslyAllowAnyOrigin', () => {
  it('accepts any origin only when asked for by name', () => {
    const m = createOriginMatcher({ allow: [], dangerouslyAllowAnyOrigin: true });
    expect(m.check('https://evil.io')).toBe(true);
  });

  it('still applies the missing policy', () => {
    const m = createOriginMatcher({ allow: [], dangerouslyAllowAnyOrigin: true, missing: 'deny' });
    expect(m.check(null)).toBe(false);
  });
});

describe('origin matcher: invalid allowlists throw', () => {
  it('throws on an empty allowlist', () => {
    expect(() => createOriginMatcher({ allow: [] })).toThrow(TypeError);
  });

  it("throws on '*' without dangerouslyAllowAnyOrigin", () => {
    expect(() => createOriginMatcher({ allow: ['*'] })).toThrow(TypeError);
  });

  it('throws on a mistyped entry rather than ignoring it', () => {
    expect(() => createOriginMatcher({ allow: [APP, 'https://app.example.com/'] })).toThrow(
      TypeError,
    );
  });
});

describe('origin check through createGuard().upgrade()', () => {
  it('accepts the allowed origin', async () => {
    const d = await upgradeWith(originGuard(), APP);
    expect(d.ok).toBe(true);
  });

  it('accepts an explicit :443 (same origin tuple)', async () => {
    expect((await upgradeWith(originGuard(), 'https://app.example.com:443')).ok).toBe(true);
  });

  it('accepts the allowed origin in upper case (same origin)', async () => {
    expect((await upgradeWith(originGuard(), 'HTTPS://APP.EXAMPLE.COM')).ok).toBe(true);
  });

  for (const [name, origin] of FOREIGN_TO_APP) {
    // Header values are bytes: a runtime hands non-ASCII ones over as Latin-1 decoded UTF-8, and
    // the Fetch `Headers` class refuses anything above U+00FF, so send what a server would see.
    const onTheWire = String.fromCharCode(...new TextEncoder().encode(origin));
    it(`refuses with 403 'origin': ${name}`, async () => {
      expectOriginRejection(await upgradeWith(originGuard(), onTheWire));
    });
  }

  it('refuses the null origin with 403 by default', async () => {
    expectOriginRejection(await upgradeWith(originGuard(), 'null'));
  });

  it("accepts the null origin when nullOrigin is 'allow'", async () => {
    expect((await upgradeWith(originGuard({ nullOrigin: 'allow' }), 'null')).ok).toBe(true);
  });

  it('accepts a handshake without Origin by default', async () => {
    expect((await upgradeWith(originGuard(), undefined)).ok).toBe(true);
  });

  it("refuses a handshake without Origin with 403 when missingOrigin is 'deny'", async () => {
    expectOriginRejection(await upgradeWith(originGuard({ missingOrigin: 'deny' }), undefined));
  });

  it('treats surrounding whitespace as optional header whitespace (trimmed by Headers), so the origin is the allowed one', async () => {
    expect((await upgradeWith(originGuard(), `  ${APP}  `)).ok).toBe(true);
  });

  it('refuses a very long Origin header', async () => {
    expectOriginRejection(await upgradeWith(originGuard(), `${APP}.${'a'.repeat(100_000)}`));
  });

  it('applies one-label wildcards through the guard', async () => {
    const g = originGuard({ origins: ['https://*.example.com'] });
    expect((await upgradeWith(g, 'https://a.example.com')).ok).toBe(true);
    expectOriginRejection(await upgradeWith(g, 'https://example.com'));
    expectOriginRejection(await upgradeWith(g, 'https://a.b.example.com'));
    expectOriginRejection(await upgradeWith(g, 'https://x.example.com.evil.io'));
  });

  it('applies IPv6 bracket entries through the guard', async () => {
    const g = originGuard({ origins: ['http://[::1]:8080'] });
    expect((await upgradeWith(g, 'http://[::1]:8080')).ok).toBe(true);
    expectOriginRejection(await upgradeWith(g, 'http://[::1]:8081'));
  });

  it('refuses a foreign origin before looking at credentials, even with a valid-looking token', async () => {
    const g = createGuard({
      origins: [APP],
      jwt: { algorithms: ['HS256'], secret: 's'.repeat(40) },
      audit: false,
      penalties: false,
    });
    const d = await g.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: 'https://app.example.com.evil.io', authorization: 'Bearer x.y.z' },
      }),
      ip: '203.0.113.7',
    });
    expectOriginRejection(d);
  });

  it('records an origin rejection in the audit stream with reason origin and status 403', async () => {
    const events: { type: string; reason?: string; status?: number; origin?: string | null }[] = [];
    const g = originGuard({ audit: (e) => events.push(e) });
    await upgradeWith(g, 'https://evil.io');
    const rejected = events.filter((e) => e.type === 'connection.rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ reason: 'origin', status: 403, origin: 'https://evil.io' });
    expect(g.stats().rejections).toMatchObject({ origin: 1 });
  });

  it('accepts any origin with dangerouslyAllowAnyOrigin and no list', async () => {
    const g = createGuard({
      dangerouslyAllowAnyOrigin: true,
      allowAnonymous: true,
      audit: false,
      penalties: false,
    });
    expect((await upgradeWith(g, 'https://evil.io')).ok).toBe(true);
  });
});

describe('origin allowlist start-up errors (createGuard throws GuardConfigError)', () => {
  const base: GuardOptions = { allowAnonymous: true };

  it('refuses an empty list, never taking it as "allow all"', () => {
    const problems = configProblems({ ...base, origins: [] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^origins: the allowlist is empty/);
  });

  it('refuses a missing list', () => {
    const problems = configProblems({ ...base });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^origins: missing/);
  });

  it("refuses '*' without dangerouslyAllowAnyOrigin", () => {
    const problems = configProblems({ ...base, origins: ['*'] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^origins: '\*'/);
    expect(problems[0]).toContain('dangerouslyAllowAnyOrigin');
  });

  it("accepts '*' in the list when dangerouslyAllowAnyOrigin is set", () => {
    expect(() =>
      createGuard({ ...base, audit: false, origins: ['*'], dangerouslyAllowAnyOrigin: true }),
    ).not.toThrow();
  });

  it('refuses a wildcard over a top-level domain (*.com admits every .com site), allows *.localhost', () => {
    for (const entry of ['https://*.com', 'https://*.io:8443', 'http://*.internal']) {
      expect(configProblems({ ...base, origins: [entry] })).toEqual([
        expect.stringContaining('registrable base of at least two labels'),
      ]);
    }
    expect(() =>
      createGuard({ ...base, audit: false, origins: ['http://*.localhost:5173'] }),
    ).not.toThrow();
    expect(() =>
      createGuard({ ...base, audit: false, origins: ['https://*.example.co.uk'] }),
    ).not.toThrow();
  });

  it('refuses a trailing slash', () => {
    const problems = configProblems({ ...base, origins: ['https://app.example.com/'] });
    expect(problems).toEqual([
      expect.stringContaining('"https://app.example.com/" is not an origin'),
    ]);
  });

  it('refuses a path', () => {
    const problems = configProblems({ ...base, origins: ['https://app.example.com/app'] });
    expect(problems).toEqual([
      expect.stringContaining('"https://app.example.com/app" is not an origin'),
    ]);
  });

  it('refuses a bare host without a scheme', () => {
    const problems = configProblems({ ...base, origins: ['app.example.com'] });
    expect(problems).toEqual([expect.stringContaining('"app.example.com" is not an origin')]);
  });

  it('refuses a trailing dot, userinfo, a query, whitespace and an unknown scheme', () => {
    const bad = [
      'https://app.example.com.',
      'https://user@app.example.com',
      'https://app.example.com?x=1',
      ' https://app.example.com',
      'ftp://app.example.com',
    ];
    const problems = configProblems({ ...base, origins: bad });
    expect(problems).toHaveLength(bad.length);
    for (const [i, entry] of bad.entries()) {
      expect(problems[i]).toContain(JSON.stringify(entry));
    }
  });

  it('refuses a wildcard anywhere but the first label', () => {
    const bad = ['https://app.*.example.com', 'https://*example.com', 'https://*.*.example.com'];
    const problems = configProblems({ ...base, origins: bad });
    expect(problems).toHaveLength(bad.length);
  });

  it('refuses a non-string entry', () => {
    const problems = configProblems({
      ...base,
      origins: [APP, 42 as unknown as string],
    });
    expect(problems).toEqual([expect.stringContaining('42 is not a string')]);
  });

  it('reports every bad entry at once, keeping good ones out of the report', () => {
    const problems = configProblems({
      ...base,
      origins: [APP, 'https://a.example.com/', 'b.example.com'],
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^origins: "https:\/\/a\.example\.com\/" is not an origin/);
    expect(problems[1]).toMatch(/^origins: "b\.example\.com" is not an origin/);
  });
});
