/**
 * The upgrade decision, in the contract's order. Stateless refusals first (transport, origin):
 * they cost no store step, spend no connection budget and score nothing, because a browser sends
 * the page's own Origin and a hostile page opening sockets through its visitors' browsers must
 * not be able to spend or ban their address. Then the IP's ban, the connection rate, the
 * credential (CSRF for cookies), its verification, and the admission of its identity; a ban seen
 * while any of this awaited refuses it at accept.
 *
 * @module
 */
import type { Principal } from '../auth/principal.ts';
import { bannedReason } from '../core/ban-reason.ts';
import type { RejectMode } from '../core/codes.ts';
import { randomId } from '../core/encoding.ts';
import { CredentialError, StoreUnavailableError } from '../core/errors.ts';
import { LoadShed } from '../core/load-shed.ts';
import type { LimitResult } from '../core/rate-limit.ts';
import { redactUrl } from '../observability/redact.ts';
import type { Admission, Refusal } from '../state/admission.ts';
import type { BanWatch } from '../state/ban-watch.ts';
import type { Caps } from '../state/caps.ts';
import { type ConnectionState, createConnectionState, enterPhase } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { LeaseRenewal } from '../state/lease-renewal.ts';
import type { Penalties } from '../state/penalties.ts';
import {
  type CookieSourceOptions,
  type Credential,
  type CredentialExtractor,
  isUsableCredential,
} from './credentials.ts';
import type { Accept, Reject, UpgradeInfo } from './decision.ts';
import type { OriginMatcher } from './origin.ts';
import type { HandshakeFacts, RejectHandshake } from './reject.ts';
import { requestUrl } from './request-url.ts';
import type { CredentialVerifier } from './verify-credential.ts';

const noop = (): void => {};

/** Stands in for a request URL that does not parse (no credential can be read from it). */
const INVALID_URL = new URL('http://invalid/');

/** Decide a handshake (`guard.upgrade`). Never throws. */
export type DecideUpgrade = (info: UpgradeInfo) => Promise<Accept | Reject>;

/** What the upgrade decision is built from. */
export interface UpgradeParts {
  readonly origins: OriginMatcher;
  readonly extractor: CredentialExtractor;
  readonly cookie: CookieSourceOptions | undefined;
  readonly verifier: CredentialVerifier;
  readonly bans: Penalties;
  readonly watch: BanWatch;
  readonly caps: Caps;
  readonly admission: Admission;
  readonly renewal: LeaseRenewal;
  readonly reject: RejectHandshake;
  /** Secret query parameters, masked in the URL every event carries. */
  readonly secretParams: readonly string[];
}

/** The upgrade decision of one guard. */
export function createUpgrade(ctx: GuardContext, parts: UpgradeParts): DecideUpgrade {
  const { settings } = ctx;
  const { origins, extractor, reject, secretParams } = parts;
  // Handshakes between the origin check and their decision, on this instance.
  const shed =
    settings.pendingCap === undefined
      ? undefined
      : new LoadShed(settings.pendingCap, {
          minWindowSec: settings.retryUnavailableSec,
          now: ctx.now,
        });
  const decide = createDecide(ctx, parts, shed);
  const failed = createFailed(ctx, reject);

  // Not an async function: the stateless part answers at once, and the rest is `decide`'s own
  // promise (one async frame per handshake, not two).
  return (info) => {
    const { request, ip } = info;
    let base: HandshakeFacts;
    let url: URL;
    let origin: string | null;
    try {
      url = requestUrl(request) ?? INVALID_URL;
      origin = request.headers.get('origin');
      const ua = request.headers.get('user-agent');
      base = {
        ip,
        origin,
        userAgent: ua === null ? undefined : ua.slice(0, 256),
        url: redactUrl(`${url.pathname}${url.search}`.slice(0, 2048), secretParams),
        protocol: undefined,
      };
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      base.protocol = extractor.selectProtocol(request);
      if (settings.requireSecure && !info.secure)
        return Promise.resolve(reject('insecure_transport', base));
      if (!origins.check(origin))
        return Promise.resolve(reject('origin', base, { violation: 'origin' }));
      // Shed before any store step or credential check: the refusal costs no round trip, spends
      // no ticket and scores nothing (the instance is busy, the client did nothing wrong). Drawn
      // per handshake over a window that grows with the overload, the hint spreads the retries
      // of clients that were dropped together (core/load-shed.ts).
      if (shed && !shed.enter()) {
        if (!settings.dryRun)
          return Promise.resolve(reject('overloaded', base, { retryAfter: shed.retryAfterSec() }));
        ctx.audit({ type: 'limit.exceeded', ip, reason: 'overloaded', dryRun: true });
        // Dry run: decided all the same, and counted in like any other.
        shed.force();
      }
    } catch (error) {
      return Promise.resolve(failed(error, base, ip));
    }
    // `decide` counts itself out when it settles, and answers its own failures.
    return decide(info, base, url, origin);
  };
}

/**
 * Past the stateless checks: the IP's screen, the credential, its admission, in one async
 * function (each layer of its own was a promise and a job more on every handshake). Never
 * rejects: a failure is `failed`'s answer.
 */
function createDecide(ctx: GuardContext, parts: UpgradeParts, shed: LoadShed | undefined) {
  const { now, store, settings } = ctx;
  const { connectRate } = settings;
  const { extractor, cookie, verifier, bans, watch, caps, admission, reject } = parts;
  const screen = createScreen(ctx, parts);
  const csrf = createCsrf(extractor, cookie, reject);
  const refused = createRefused(ctx, reject);
  const accept = createAccept(ctx, parts);
  const failed = createFailed(ctx, reject);
  return async (
    info: UpgradeInfo,
    base: HandshakeFacts,
    url: URL,
    origin: string | null,
  ): Promise<Accept | Reject> => {
    const { request, ip } = info;
    try {
      const key = ctx.keyOfIp(ip);
      // Bans seen from here on were placed after this handshake's own reads could see them.
      const since = watch.seq;
      // A browser (it sent an allowed Origin) cannot read a refused upgrade's status: it is
      // told a ban by a 4030 close carrying the end, which its WebSocket API does show.
      const banMode: RejectMode | undefined = origin !== null ? 'close' : undefined;
      const credential = extractor.fromRequest(request, url);
      // A ticket is redeemed in the same round trip as the screen, so it is spent by the first
      // handshake that presents it, whatever the outcome (a token costs CPU, not the store: it
      // is verified only once the screen lets it through).
      const early =
        credential?.kind === 'ticket' && credential.source !== 'cookie'
          ? verifier.verify(credential, ip, origin)
          : undefined;
      early?.catch(noop); // awaited below when the screen lets it through
      // The IP's ban and the connection rate in one round trip, both sent before either is
      // awaited (no Promise.all: on the memory store its arrays cost more than the steps); the
      // rate's failure is handled when the ban's comes first.
      const banStep = bans.bannedUntil('ip', key);
      const rateStep = connectRate ? store.limit(`rate:connect:${key}`, connectRate) : undefined;
      rateStep?.catch(noop);
      const ipBan = await banStep;
      const rate = rateStep === undefined ? undefined : await rateStep;
      if (ipBan !== undefined || (rate !== undefined && !rate.allowed)) {
        const screened = await screen(base, key, banMode, ipBan, rate);
        if (screened) return screened;
      }
      const c = createConnectionState(base, randomId(), key, url.pathname, since, now());
      if (!credential) return await anonymous(c, base);
      if (credential.source === 'cookie' && cookie?.csrf) {
        const refusedCsrf = await csrf(credential, request, url, base);
        if (refusedCsrf) return refusedCsrf;
      }
      let principal: Principal;
      try {
        principal = await (early ?? verifier.verify(credential, c.ip, c.origin));
      } catch (error) {
        return refused.credential(error, base);
      }
      // The user's ban, path binding, caps: the same admission as a later authentication.
      const refusal = await admission.admit(c, principal, true, c.banSeen);
      if (refusal) return refused.admission(refusal, principal.sub, base, banMode);
      c.principal = principal;
      c.expiresAt = principal.expiresAt;
      return accept(c, base);
    } catch (error) {
      return failed(error, base, ip);
    } finally {
      shed?.leave();
    }
  };

  /** No credential: refused, or accepted anonymous or awaiting its credential message. */
  async function anonymous(c: ConnectionState, base: HandshakeFacts): Promise<Accept | Reject> {
    if (!extractor.firstMessage && !settings.allowAnonymous)
      return reject('credentials_missing', base, { violation: 'credentials_missing' });
    if (extractor.firstMessage) c.authDeadline = now() + extractor.firstMessageTimeoutMs;
    const capped = await caps.acquire(c, undefined, true);
    if (capped) return reject(capped, base, { retryAfter: 5 });
    return accept(c, base);
  }
}

/** A handshake that threw: the store's failure is a 503, anything else ours (500). */
function createFailed(ctx: GuardContext, reject: RejectHandshake) {
  const { audit, report, settings } = ctx;
  return (error: unknown, base: HandshakeFacts, ip: string): Reject => {
    if (error instanceof StoreUnavailableError) {
      report('store')(error);
      audit({ type: 'store.error', ip, reason: 'store_unavailable' });
      return reject('store_unavailable', base, { retryAfter: settings.retryUnavailableSec });
    }
    report('upgrade')(error);
    return reject('internal', base);
  };
}

/**
 * The screen's verdict once the IP's ban or the connection rate says no: a refusal, or
 * `undefined` to go on (dry run). Only then called: the usual handshake passes it by.
 */
function createScreen(ctx: GuardContext, parts: UpgradeParts) {
  const { now, store, audit, settings } = ctx;
  const { dryRun, connectRate } = settings;
  const { reject } = parts;
  return async (
    base: HandshakeFacts,
    key: string,
    banMode: RejectMode | undefined,
    ipBan: number | undefined,
    r: LimitResult | undefined,
  ): Promise<Reject | undefined> => {
    if (ipBan !== undefined) {
      if (!dryRun) {
        // A banned address's step is given back (unawaited: the refusal does not wait for it,
        // and it follows the step on the same connection), so the address has its whole
        // budget when the ban ends or is lifted.
        if (connectRate && r?.allowed)
          store.limit(`rate:connect:${key}`, connectRate, -1).catch(ctx.report('store'));
        // Telling a browser costs an accepted socket; a banned client that forges an Origin must
        // not get them without bound: past the connection rate (counted apart, so a ban does
        // not also eat the budget the address has once it ends) it gets the plain 403.
        const tell =
          banMode !== undefined &&
          (!connectRate || (await store.limit(`rate:banned:${key}`, connectRate)).allowed);
        return reject('banned', base, {
          retryAfter: Math.ceil((ipBan - now()) / 1000),
          message: bannedReason(ipBan),
          ...(tell ? { mode: banMode } : {}),
        });
      }
      audit({ type: 'limit.exceeded', ip: base.ip, reason: 'banned', dryRun });
    }
    if (r && !r.allowed) {
      if (!dryRun)
        return reject('connect_rate', base, {
          retryAfter: Math.ceil(r.retryAfterMs / 1000),
          violation: 'connect_rate',
        });
      audit({ type: 'limit.exceeded', ip: base.ip, reason: 'connect_rate', dryRun });
    }
    return undefined;
  };
}

/** A cookie credential needs the page's CSRF token: a refusal, or `undefined`. */
function createCsrf(
  extractor: CredentialExtractor,
  cookie: CookieSourceOptions | undefined,
  reject: RejectHandshake,
) {
  return async (
    credential: Credential,
    request: Request,
    url: URL,
    base: HandshakeFacts,
  ): Promise<Reject | undefined> => {
    if (!cookie?.csrf) return undefined;
    // Over the limit or empty: refused unparsed, before the app's CSRF hook sees it.
    if (!isUsableCredential(credential.value))
      return reject('credentials_invalid', base, { violation: 'credentials_invalid' });
    const token = extractor.csrfToken(request, url);
    if (token === undefined || !(await cookie.csrf.verify(token, credential.value)))
      return reject('csrf', base, { violation: 'csrf' });
    return undefined;
  };
}

/** The refusals after the screen: a credential that failed, an identity not admitted. */
function createRefused(ctx: GuardContext, reject: RejectHandshake) {
  const { now } = ctx;
  return {
    /** Only a refused credential is the client's fault; anything else is rethrown (500). */
    credential(error: unknown, base: HandshakeFacts): Reject {
      // A `principal` hook whose database is down is ours: 500 via the outer handler, not
      // "log in again".
      if (!(error instanceof CredentialError)) throw error;
      if (error.expired) return reject('expired', base);
      return reject('credentials_invalid', base, { violation: 'credentials_invalid' });
    },
    /** The admission's refusal as the handshake's. */
    admission(
      refused: Refusal,
      userId: string,
      base: HandshakeFacts,
      banMode: RejectMode | undefined,
    ): Reject {
      if (refused.reason === 'banned')
        return reject('banned', base, {
          userId,
          retryAfter: Math.ceil((refused.until - now()) / 1000),
          message: bannedReason(refused.until),
          ...(banMode ? { mode: banMode } : {}),
        });
      if (refused.reason === 'path_mismatch')
        return reject('path_mismatch', base, { userId, violation: 'path_mismatch' });
      // Nobody can close a connection that is not accepted yet; kept for completeness.
      if (refused.reason === 'closed') return reject('internal', base);
      return reject(refused.reason, base, { userId, retryAfter: 5 });
    },
  };
}

/** Accept `c`, unless a ban arrived while its handshake awaited the store. */
function createAccept(ctx: GuardContext, parts: UpgradeParts) {
  const { now, stats, audit, auditing, registry, settings } = ctx;
  const { watch, caps, renewal, reject } = parts;
  return (c: ConnectionState, base: HandshakeFacts): Accept | Reject => {
    // A ban seen while this handshake awaited the store (placed here or on another instance).
    const banned = settings.dryRun ? undefined : watch.knownBan(c, c.principal?.sub, c.banSeen);
    if (banned !== undefined) {
      caps.releaseAll(c);
      return reject('banned', base, {
        ...(c.principal ? { userId: c.principal.sub } : {}),
        retryAfter: Math.ceil((banned - now()) / 1000),
        message: bannedReason(banned),
        ...(c.origin !== null ? { mode: 'close' as const } : {}),
      });
    }
    // Anonymous by choice is live; a connection awaiting its credential message stays pending.
    if (c.authDeadline === undefined) enterPhase(c, 'live');
    registry.live.set(c.id, c);
    watch.listen();
    renewal.start();
    stats.opened(c.principal?.sub);
    if (c.principal) registry.addUser(c.principal.sub);
    if (auditing)
      audit({
        type: 'connection.accepted',
        connectionId: c.id,
        ip: c.ip,
        origin: c.origin,
        ...(c.userAgent !== undefined ? { userAgent: c.userAgent } : {}),
        url: c.url,
        ...(c.principal ? { userId: c.principal.sub } : {}),
        ...(c.authDeadline !== undefined ? { detail: { pendingAuth: true } } : {}),
      });
    return { ok: true, connection: c, protocol: c.protocol };
  };
}
