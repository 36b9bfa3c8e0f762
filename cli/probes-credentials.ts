/**
 * The credential probes (an anonymous socket, forged, unsigned, wrong-key, tampered, key-confused
 * and expired tokens, a guessed ticket, a replayed ticket and a ticket's lifetime). An anonymous
 * socket must be refused, or closed at its auth deadline; its outcome also tells the message
 * probes whether the server hands out sockets without credentials.
 *
 * @module
 */
import { describe, type Outcome, refused, stayedOpen } from './attempt.ts';
import {
  type ConfusionKey,
  decodePayload,
  hmacKeyedToken,
  keysFromJwks,
  keysFromPem,
  tamperedToken,
  unsignedToken,
  wrongKeyToken,
} from './forge.ts';
import { httpCall } from './http-request.ts';
import { fail, type Judgement, type Probe, pass, skip, withParam } from './probe.ts';
import { type TicketInputs, ticketProbes } from './probes-tickets.ts';

/** What the credential probes are given besides the shared context. */
export interface CredentialInputs extends TicketInputs {
  /** The text of the server's public key (PEM), for the RS256 → HS256 probe. */
  readonly publicKeyPem?: string;
  /** The server's key set URL, fetched once, for the same probe. */
  readonly jwksUrl?: string;
}

const FIX_AUTH =
  'Require a credential on every socket (createGuard({ jwt } | { tickets })) and verify its signature.';

function judgeRefusal(o: Outcome, statuses: number[], codes: number[]): Judgement {
  if (refused(o, statuses, codes)) return pass(`refused: ${describe(o)}`);
  if (stayedOpen(o)) return fail(`accepted: ${describe(o)}`);
  if (o.opened && o.closeCode !== undefined) return pass(`closed: ${describe(o)}`);
  return pass(`not accepted: ${describe(o)}`);
}

function forged(id: string, check: string, credential: () => [string, string]): Probe {
  return {
    id,
    check,
    category: 'credentials',
    severity: 'high',
    expected: 'HTTP 401 or close 4001',
    fix: FIX_AUTH,
    run: async (ctx) => {
      const [key, value] = credential();
      const o = await ctx.attempt({
        url: withParam(ctx.url, key, value),
        origin: ctx.origin,
        waitMs: ctx.waitMs,
      });
      return judgeRefusal(o, [401], [4001]);
    },
  };
}

const anonymous: Probe = {
  id: 'credentials.missing',
  check: 'no credentials',
  category: 'credentials',
  severity: 'high',
  expected: 'HTTP 401 or close 4001 (first-message auth: closed within its timeout)',
  fix: FIX_AUTH,
  run: async (ctx) => {
    // First-message auth accepts, then closes at its deadline (wsguard: 5 s): watch that long.
    const o = await ctx.attempt({ url: ctx.url, origin: ctx.origin, waitMs: ctx.authWaitMs });
    ctx.anonymous = o;
    if (!ctx.token && stayedOpen(o)) ctx.socketUrl = ctx.url;
    return judgeRefusal(o, [401], [4001]);
  },
};

const idle: Probe = {
  id: 'credentials.idle',
  check: 'idle unauthenticated socket',
  category: 'credentials',
  severity: 'medium',
  expected: 'refused, or closed at the auth deadline',
  fix: 'Close a socket that has not authenticated within a few seconds (wsguard: auth.timeoutMs).',
  run: async (ctx) => {
    const o = ctx.anonymous;
    if (!o) return skip('the anonymous attempt did not run');
    if (stayedOpen(o)) return fail(`still open after ${o.ms} ms without a credential`);
    if (o.opened) return pass(`closed after ${o.ms} ms: ${describe(o)}`);
    return pass(`never opened: ${describe(o)}`);
  },
};

const expired: Probe = {
  id: 'credentials.expired',
  check: 'expired token',
  category: 'credentials',
  severity: 'high',
  expected: 'close 4002 (refresh) or HTTP 401 / close 4001',
  fix: 'Verify exp on every token (and close sockets when it passes).',
  run: async (ctx) => {
    if (!ctx.expiredToken)
      return skip(
        'needs --expired-token: an expired token can only be signed with the issuer key (the wrong-key probe covers forged ones)',
      );
    const o = await ctx.attempt({
      url: withParam(ctx.url, 'token', ctx.expiredToken),
      origin: ctx.origin,
      waitMs: ctx.waitMs,
    });
    return judgeRefusal(o, [401], [4001, 4002]);
  },
};

const tampered: Probe = {
  id: 'credentials.tampered',
  check: 'tampered token (claims raised to admin, signature kept)',
  category: 'credentials',
  severity: 'high',
  expected: 'HTTP 401 or close 4001',
  fix: 'Verify the signature over header and payload before reading any claim (a JWT library, pinned algorithms).',
  run: async (ctx) => {
    if (!ctx.token) return skip('needs --token: a valid token to tamper with');
    const forgedToken = tamperedToken(ctx.token);
    if (forgedToken === undefined) return skip('--token is not a compact JWT: nothing to tamper');
    const o = await ctx.attempt({
      url: withParam(ctx.url, 'token', forgedToken),
      origin: ctx.origin,
      waitMs: ctx.waitMs,
    });
    return judgeRefusal(o, [401], [4001]);
  },
};

/** The key set at `url` as HMAC keys to try, or why there are none. */
async function jwksKeys(url: string, timeoutMs: number): Promise<ConfusionKey[] | string> {
  const a = await httpCall({ url, timeoutMs });
  if ('error' in a) return `--jwks ${url}: ${a.error}`;
  if (a.status !== 200) return `--jwks ${url}: HTTP ${a.status}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.body);
  } catch {
    return `--jwks ${url}: not JSON`;
  }
  const keys = keysFromJwks(parsed);
  return keys.length > 0 ? keys : `--jwks ${url}: no RSA or EC key in the answer`;
}

/** The HMAC keys to try, from the PEM then the key set; a string says why there are none. */
async function confusionKeys(inputs: CredentialInputs): Promise<ConfusionKey[] | string> {
  if (inputs.publicKeyPem === undefined && inputs.jwksUrl === undefined)
    return "needs --public-key <file.pem> or --jwks <url>: the server's public key";
  const keys = inputs.publicKeyPem !== undefined ? keysFromPem(inputs.publicKeyPem) : [];
  if (inputs.jwksUrl !== undefined) {
    const fromSet = await jwksKeys(inputs.jwksUrl, inputs.timeoutMs);
    if (typeof fromSet === 'string') {
      if (keys.length === 0) return fromSet;
    } else keys.push(...fromSet);
  }
  // Each try is a forged credential (penalty points on a guarded server): a few, not every variant.
  return keys.slice(0, 4);
}

function algConfusion(inputs: CredentialInputs): Probe {
  return {
    id: 'credentials.alg-confusion',
    check: 'RS256 → HS256 confusion (HMAC keyed with the public key)',
    category: 'credentials',
    severity: 'high',
    expected: 'HTTP 401 or close 4001',
    fix: "Pin the algorithms (jwt: { algorithms: ['RS256'], publicKey }) and never verify HS* with a public key.",
    run: async (ctx) => {
      const keys = await confusionKeys(inputs);
      if (typeof keys === 'string') return skip(keys);
      // The valid token's claims (issuer, audience) when given: only the algorithm is wrong then.
      const claims = ctx.token !== undefined ? decodePayload(ctx.token) : undefined;
      const seen: string[] = [];
      for (const k of keys) {
        const o = await ctx.attempt({
          url: withParam(ctx.url, 'token', hmacKeyedToken(k.key, claims, k.kid)),
          origin: ctx.origin,
          waitMs: ctx.waitMs,
        });
        if (stayedOpen(o))
          return fail(`accepted an HS256 token keyed with ${k.what}: ${describe(o)}`);
        seen.push(`${k.what}: ${describe(o)}`);
      }
      return pass(
        `refused ${keys.length} HS256 token${keys.length === 1 ? '' : 's'}`,
        seen.join('; '),
      );
    },
  };
}

/** The credential probes, in order (the anonymous one first: others read its outcome). */
export function credentialProbes(inputs: CredentialInputs): Probe[] {
  return [
    anonymous,
    idle,
    forged('credentials.malformed', 'malformed token', () => ['token', 'garbage']),
    forged('credentials.unsigned', 'unsigned token (alg: none)', () => ['token', unsignedToken()]),
    forged('credentials.wrong-key', 'token signed with a wrong key', () => [
      'token',
      wrongKeyToken(),
    ]),
    tampered,
    algConfusion(inputs),
    expired,
    forged('credentials.ticket', 'guessed ticket', () => ['ticket', 'A'.repeat(43)]),
    ...ticketProbes(inputs),
  ];
}
