/**
 * A credential to a principal: a ticket is redeemed (bound to the client's IP and Origin), a token
 * verified; the app's `principal` hook maps the result, and roles expand to permissions. The same
 * path for the handshake, the credential message and a refresh.
 *
 * @module
 */
import type { JwtVerifier } from '../auth/jwt.ts';
import type { Permissions } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import type { Tickets } from '../auth/tickets.ts';
import { CredentialError } from '../core/errors.ts';
import { type Credential, isUsableCredential } from './credentials.ts';

/** Verifying credentials of one guard. */
export interface CredentialVerifier {
  /** Redeem or verify `credential`; throws {@link CredentialError} when it is refused. */
  verify(credential: Credential, ip: string, origin: string | null): Promise<Principal>;
  /** Verify a bare token (`guard.verifyToken`). */
  verifyToken(token: string): Promise<Principal>;
}

/** What the verifier needs; `tickets` / `jwt` undefined when not enabled. */
export interface CredentialVerifierParts {
  readonly tickets: Tickets | undefined;
  readonly jwt: JwtVerifier | undefined;
  readonly permissions: Permissions;
  readonly principal: ((principal: Principal) => Principal | Promise<Principal>) | undefined;
}

/** The credential verifier of one guard. */
export function createCredentialVerifier(parts: CredentialVerifierParts): CredentialVerifier {
  const { tickets, jwt, permissions, principal: mapPrincipal } = parts;
  const expand = (p: Principal): Principal => ({
    ...p,
    permissions: permissions.expand(p.roles, p.permissions),
  });
  return {
    // Not an async function: one `then` on the redemption or the token's check, not a frame and
    // two awaits on top of it, on every handshake.
    verify(credential, ip, origin) {
      try {
        if (!isUsableCredential(credential.value))
          throw new CredentialError('credential too long or empty');
        let principal: Promise<Principal>;
        if (credential.kind === 'ticket') {
          if (!tickets) throw new CredentialError('tickets are not enabled');
          principal = tickets.redeem(credential.value, { ip, origin });
        } else {
          if (!jwt) throw new CredentialError('tokens are not enabled');
          principal = jwt.verify(credential.value);
        }
        // The app's hook may answer a value or a promise: `then` takes both.
        return (mapPrincipal ? principal.then(mapPrincipal) : principal).then(expand);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    async verifyToken(token) {
      if (!jwt) throw new CredentialError('tokens are not enabled');
      if (!isUsableCredential(token)) throw new CredentialError('credential too long or empty');
      const principal = await jwt.verify(token);
      return expand(mapPrincipal ? await mapPrincipal(principal) : principal);
    },
  };
}
