/**
 * First-message authentication: a connection accepted without a credential sends it as its first
 * frame. The connection is `authenticating` while it is verified (other frames are refused: they
 * would run before its identity and caps exist), then admitted like a handshake; the socket
 * closing at any await ends it with nothing taken.
 *
 * @module
 */
import { bannedReason } from '../core/ban-reason.ts';
import { REJECTIONS } from '../core/codes.ts';
import { CredentialError, StoreUnavailableError } from '../core/errors.ts';
import type { CredentialExtractor } from '../handshake/credentials.ts';
import type { CredentialVerifier } from '../handshake/verify-credential.ts';
import type { Admission } from '../state/admission.ts';
import type { BanWatch } from '../state/ban-watch.ts';
import { type ConnectionState, enterPhase } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { Penalize } from '../state/penalize.ts';
import type { MessageDecision } from './decision.ts';
import type { Verdicts } from './verdicts.ts';

/** Authenticate pending `c` with the credential message `value`. Never rejects. */
export type Authenticate = (c: ConnectionState, value: unknown) => Promise<MessageDecision>;

/** The first-message authentication of one guard. */
export function createFirstMessageAuth(
  ctx: GuardContext,
  parts: {
    extractor: CredentialExtractor;
    verifier: CredentialVerifier;
    admission: Admission;
    watch: BanWatch;
    verdicts: Verdicts;
    penalize: Penalize;
  },
): Authenticate {
  const { audit, stats, report } = ctx;
  const { extractor, verifier, admission, watch, verdicts, penalize } = parts;

  /** The decision for a credential refused or failed on the way. */
  const failed = (c: ConnectionState, error: unknown): MessageDecision => {
    if (error instanceof StoreUnavailableError) {
      report('store')(error);
      return verdicts.close(c, 'store_unavailable', 'service unavailable');
    }
    if (!(error instanceof CredentialError)) {
      report('message')(error);
      return verdicts.close(c, 'internal', 'internal error');
    }
    if (error.expired) return verdicts.close(c, 'expired', 'credentials expired');
    penalize('ip', c.ipKey, 'credentials_invalid', c);
    return verdicts.close(c, 'credentials_invalid', 'invalid credentials');
  };

  return async (c, value) => {
    const credential = extractor.fromMessage(value);
    if (!credential) return verdicts.close(c, 'credentials_missing', 'credentials required');
    enterPhase(c, 'authenticating');
    const since = watch.seq;
    try {
      const principal = await verifier.verify(credential, c.ip, c.origin);
      // Closed while the credential was verified: no ban lookup, no lease, no eviction for it.
      if (c.closed) return verdicts.close(c, 'internal', 'closed');
      const refused = await admission.admit(c, principal, false, since);
      // The socket may have closed in the turns between admit's end and this line.
      if (c.closed) return verdicts.close(c, 'internal', 'closed');
      if (refused) {
        if (refused.reason === 'closed') return verdicts.close(c, 'internal', 'closed');
        if (refused.reason === 'banned') {
          c.bannedUntil = refused.until;
          return verdicts.close(c, 'banned', bannedReason(refused.until));
        }
        if (refused.reason === 'path_mismatch') {
          penalize('ip', c.ipKey, 'path_mismatch', c);
          return verdicts.close(c, 'path_mismatch', REJECTIONS.path_mismatch.message);
        }
        return verdicts.close(c, refused.reason, REJECTIONS[refused.reason].message);
      }
      admission.join(c, principal);
      audit({
        type: 'connection.authenticated',
        connectionId: c.id,
        ip: c.ip,
        userId: principal.sub,
      });
      stats.delivered();
      return { action: 'deliver', value, authenticated: true };
    } catch (error) {
      return failed(c, error);
    } finally {
      // Refused: back to pending unless the close is under way (it usually is).
      if (c.phase === 'authenticating') enterPhase(c, 'pending');
    }
  };
}
