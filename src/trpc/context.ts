/**
 * The guarded tRPC context: who is calling (`principal`) and over which connection, taken from
 * the guard's accept decision and in-band refreshes only, never from anything the client sends
 * after the handshake.
 *
 * @module
 */
import type { Principal } from '../auth/principal.ts';

/** The connection a call arrived on. */
export interface ConnectionInfo {
  /** Connection id. */
  readonly id: string;
  /** Client IP. */
  readonly ip: string;
  /** `Origin` of the handshake. */
  readonly origin: string | null;
  /** `User-Agent` of the handshake. */
  readonly userAgent: string | undefined;
}

/** What every procedure served by the bridge finds in `ctx`. */
export interface GuardedContext {
  /** The authenticated principal; always current (an in-band refresh replaces it). */
  readonly principal: Principal;
  /** The connection. */
  readonly connection: ConnectionInfo;
  /** Whether the principal holds a permission (wildcards honoured). */
  can(permission: string): boolean;
  /** Whether the principal may access a resource (the guard's `canAccess` hook). */
  canAccess(resource: string): Promise<boolean>;
  /**
   * Replace the connection's credential with a new token for the same subject, then
   * re-authorize every live subscription (those no longer allowed stop with FORBIDDEN).
   */
  refresh(token: string): Promise<Principal>;
}

/** Procedure meta read by the bridge and by `requirePermission()`. */
export interface GuardedMeta {
  /** Permission a caller needs for this procedure (checked before it runs, and on re-authorization). */
  permission?: string;
}
