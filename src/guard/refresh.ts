/**
 * An in-band token refresh (`guard.refresh`): the same verification and admission as a handshake,
 * so a banned user cannot stay by refreshing, and an anonymous or pending connection that becomes
 * a user takes that user's lease and counts. The subject cannot change; the socket closing during
 * any await ends it with nothing kept.
 *
 * @module
 */
import type { Principal } from '../auth/principal.ts';
import { bannedReason } from '../core/ban-reason.ts';
import { CloseCode, REJECTIONS } from '../core/codes.ts';
import { BannedError, CredentialError, GuardError } from '../core/errors.ts';
import type { CredentialVerifier } from '../handshake/verify-credential.ts';
import type { Admission } from '../state/admission.ts';
import type { BanWatch } from '../state/ban-watch.ts';
import type { ConnectionState, GuardConnection } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';

/** Refresh `connection`'s credential with `token`; the new principal, or a thrown refusal. */
export type Refresh = (connection: GuardConnection, token: string) => Promise<Principal>;

/** The refresh of one guard; `tokens` false when no JWT verifier is configured. */
export function createRefresh(
  ctx: GuardContext,
  parts: { tokens: boolean; verifier: CredentialVerifier; admission: Admission; watch: BanWatch },
): Refresh {
  const { store, audit } = ctx;
  const { tokens, verifier, admission, watch } = parts;
  const reportClose = ctx.report('close');

  /** Throw the error for an admission's refusal. */
  const refusedBy = (
    c: ConnectionState,
    refused: NonNullable<Awaited<ReturnType<Admission['admit']>>>,
  ): never => {
    if (refused.reason === 'banned') {
      c.bannedUntil = refused.until;
      c.terminate?.(CloseCode.Banned, bannedReason(refused.until));
      throw new BannedError(refused.until);
    }
    if (refused.reason === 'closed') throw new CredentialError('connection closed');
    if (refused.reason === 'path_mismatch') throw new CredentialError('token is for another path');
    throw new GuardError('ERR_WSGUARD_CAP', REJECTIONS[refused.reason].message);
  };

  return async (connection, token) => {
    const c = connection as ConnectionState;
    if (!tokens) throw new CredentialError('tokens are not enabled');
    if (c.closed) throw new CredentialError('connection closed');
    const since = watch.seq;
    const principal = await verifier.verify(
      { kind: 'token', source: 'first-message', value: token },
      c.ip,
      c.origin,
    );
    if (c.principal && principal.sub !== c.principal.sub)
      throw new CredentialError('token is for another subject');
    const refused = await admission.admit(c, principal, false, since);
    // Closed in the turns since admit ended (leases taken meanwhile went back in the caps).
    if (c.closed) throw new CredentialError('connection closed');
    if (refused) refusedBy(c, refused);
    // Another refresh joined while this one awaited: the identity is decided; give back the
    // user lease this one took.
    if (c.principal && principal.sub !== c.principal.sub) {
      const k = `lease:user:${principal.sub}`;
      c.leases = c.leases.filter(([key]) => key !== k);
      await store.releaseLease(k, c.id).catch(reportClose);
      throw new CredentialError('token is for another subject');
    }
    admission.join(c, principal);
    audit({ type: 'token.refreshed', connectionId: c.id, ip: c.ip, userId: principal.sub });
    return principal;
  };
}
