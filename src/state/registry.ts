/**
 * The one registry of this instance's connections: every accepted connection is in `live` from
 * accept until it is released, and nowhere else. Per-user counts ride along, so the per-user
 * limiter state is dropped when a user's last connection goes.
 *
 * @module
 */
import type { ConnectionState } from './connection.ts';

/** This instance's accepted connections, by id, and how many each user holds. */
export interface ConnectionRegistry {
  /** Accepted and not yet released, by connection id. */
  readonly live: Map<string, ConnectionState>;
  /** One more connection for `userId`. */
  addUser(userId: string): void;
  /** One connection fewer for `userId`; true when it was the user's last one here. */
  removeUser(userId: string): boolean;
}

/** An empty registry. */
export function createRegistry(): ConnectionRegistry {
  const live = new Map<string, ConnectionState>();
  const users = new Map<string, number>();
  return {
    live,
    addUser(userId) {
      users.set(userId, (users.get(userId) ?? 0) + 1);
    },
    removeUser(userId) {
      const n = (users.get(userId) ?? 1) - 1;
      if (n > 0) {
        users.set(userId, n);
        return false;
      }
      users.delete(userId);
      return true;
    },
  };
}
