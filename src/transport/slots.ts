/**
 * Where the hooks keep per-handshake state: symbol-keyed properties of objects that die with the
 * handshake (the request, the peer's context), not WeakMaps. A WeakMap churned at handshake rate
 * costs the garbage collector an ephemeron table to walk, measured at ~20 µs a handshake on Node.
 *
 * @module
 */
import type { Peer, PeerContext } from 'crossws';
import type { ClientInfo } from '../guard/types.ts';
import type { GuardConnection } from '../state/connection.ts';
import type { PeerState } from './peer-state.ts';

/** Where the guard's connection lives in `peer.context`. */
const KEY = 'wsguard';
/** A credential failure accepted only to be closed (close-code contract). */
const REJECT_KEY = 'wsguardReject';
/** The client of a handshake, on its request (set by adapters). */
const CLIENT = Symbol('wsguard.client');
/** An accepted handshake waiting for its socket to open, on its request. */
const PENDING = Symbol('wsguard.pending');
/** The peer's state, in its crossws context. */
const STATE = Symbol('wsguard.state');

type RequestSlots = { [CLIENT]?: ClientInfo; [PENDING]?: PeerState | undefined };

/** What a rejection accepted only to be closed carries in `peer.context[REJECT_KEY]`. */
export interface PendingRejection {
  /** The close code to send at once. */
  readonly code: number;
  /** Its reason. */
  readonly reason: string;
}

/** Record the client of a handshake for the upgrade hook (adapters call it before upgrading). */
export function setClient(request: Request, client: ClientInfo): void {
  (request as RequestSlots)[CLIENT] = client;
}

/** The guard's connection of a peer, or `undefined` for a socket the guard did not accept. */
export function connectionOf(peer: Peer): GuardConnection | undefined {
  const c = peer.context[KEY];
  return c && typeof c === 'object' ? (c as GuardConnection) : undefined;
}

/** The client an adapter recorded with {@link setClient}, if any. */
export function storedClient(request: Request): ClientInfo | undefined {
  return (request as RequestSlots)[CLIENT];
}

/** The hooks' state of a peer, or `undefined` for a socket the guard did not accept. */
export function stateOf(peer: Peer): PeerState | undefined {
  return peer.context[STATE as unknown as string] as PeerState | undefined;
}

/** The context of an accepted socket: its connection (for {@link connectionOf}) and its state. */
export function acceptedContext(connection: GuardConnection, s: PeerState): PeerContext {
  return { [KEY]: connection, [STATE]: s };
}

/** The context of a socket accepted only to be closed at once with `code`. */
export function rejectedContext(code: number, reason: string): PeerContext {
  return { [REJECT_KEY]: { code, reason } satisfies PendingRejection };
}

/** The rejection a socket was accepted only to carry, if any. */
export function rejectionOf(peer: Peer): PendingRejection | undefined {
  return peer.context[REJECT_KEY] as PendingRejection | undefined;
}

/** Note an accepted handshake on its request until its socket opens (or the runtime refuses it). */
export function setPending(request: Request, s: PeerState): void {
  (request as RequestSlots)[PENDING] = s;
}

/** Take the accepted handshake noted on a request (once: the slot is cleared). */
export function takePending(request: Request): PeerState | undefined {
  const slots = request as RequestSlots;
  const s = slots[PENDING];
  if (s) slots[PENDING] = undefined;
  return s;
}
