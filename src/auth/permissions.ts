/**
 * Roles to permissions, with wildcards: `chat.*` grants `chat.send` and `chat.room.join`; `*`
 * grants everything. A per-resource hook (`canAccess`) decides what role tables cannot, such as
 * "may this user read room 42".
 *
 * @module
 */
import type { Principal } from './principal.ts';

/** Role table and resource hook. */
export interface PermissionOptions {
  /** Permissions granted by each role. Wildcards allowed (`chat.*`, `*`). */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
  /** Per-resource check, for rules a role table cannot express. */
  readonly canAccess?: (principal: Principal, resource: string) => boolean | Promise<boolean>;
}

/** The compiled permission checker. */
export interface Permissions {
  /** Permissions of a principal: its own plus those its roles grant. */
  expand(roles: readonly string[], permissions: readonly string[]): string[];
  /** Whether the principal holds `permission` (directly or through a wildcard). */
  has(principal: Principal, permission: string): boolean;
  /** Whether the principal may access `resource`; true when no hook is configured. */
  canAccess(principal: Principal, resource: string): boolean | Promise<boolean>;
}

/**
 * Whether a granted permission list covers `required`. Checks the exact name, then each wildcard
 * prefix (`a.b.*`, `a.*`, `*`), so a check costs one lookup per name segment.
 */
export function grants(
  granted: readonly string[] | ReadonlySet<string>,
  required: string,
): boolean {
  const set = granted instanceof Set ? granted : new Set(granted as readonly string[]);
  if (set.has(required) || set.has('*')) return true;
  let dot = required.lastIndexOf('.');
  while (dot > 0) {
    if (set.has(`${required.slice(0, dot)}.*`)) return true;
    dot = required.lastIndexOf('.', dot - 1);
  }
  return false;
}

const cache = new WeakMap<readonly string[], Set<string>>();

function asSet(list: readonly string[]): Set<string> {
  let set = cache.get(list);
  if (!set) {
    set = new Set(list);
    cache.set(list, set);
  }
  return set;
}

/**
 * Compile a role table.
 *
 * @example
 * ```ts
 * const perms = createPermissions({ roles: { admin: ['*'], user: ['chat.*'] } });
 * perms.has(principal, 'chat.send');
 * ```
 */
export function createPermissions(options: PermissionOptions = {}): Permissions {
  const roles = new Map<string, readonly string[]>(Object.entries(options.roles ?? {}));
  return {
    expand(principalRoles: readonly string[], permissions: readonly string[]): string[] {
      const out = new Set(permissions);
      for (const r of principalRoles) for (const p of roles.get(r) ?? []) out.add(p);
      return [...out];
    },
    has(principal: Principal, permission: string): boolean {
      return grants(asSet(principal.permissions), permission);
    },
    canAccess(principal: Principal, resource: string): boolean | Promise<boolean> {
      return options.canAccess ? options.canAccess(principal, resource) : true;
    },
  };
}
