/**
 * After a frame parsed: the schema (any Standard Schema, sync or async), then the permission the
 * message needs and the resource it touches. An anonymous connection holds no permission and no
 * resource. A refused permission costs the user penalty points; a failed schema counts as an
 * invalid message.
 *
 * @module
 */
import type { Permissions } from '../auth/permissions.ts';
import type { StandardSchemaV1 } from '../core/standard-schema.ts';
import type { ConnectionState } from '../state/connection.ts';
import type { GuardContext } from '../state/context.ts';
import type { Penalize } from '../state/penalize.ts';
import type { MessageDecision } from './decision.ts';
import { type ReportedIssue, validate } from './parse.ts';
import type { Verdicts } from './verdicts.ts';

/** The app's checks on a parsed message (`messages` options). */
export interface MessageChecks {
  readonly schema?: StandardSchemaV1 | undefined;
  readonly permission?: ((message: unknown) => string | undefined) | undefined;
  readonly resource?: ((message: unknown) => string | undefined) | undefined;
}

/** An invalid message's decision (see frames/message.ts). */
export type Invalid = (
  c: ConnectionState,
  reason: 'schema',
  issues?: readonly ReportedIssue[],
) => MessageDecision;

/** Schema, then authorization, of a parsed value; sync unless a check is async. */
export type CheckMessage = (
  c: ConnectionState,
  value: unknown,
) => MessageDecision | Promise<MessageDecision>;

/** The schema and authorization checks of one guard. */
export function createMessageChecks(
  ctx: GuardContext,
  parts: {
    checks: MessageChecks;
    permissions: Permissions;
    verdicts: Verdicts;
    penalize: Penalize;
    invalid: Invalid;
  },
): CheckMessage {
  const { audit, settings } = ctx;
  const { checks, permissions, verdicts, penalize, invalid } = parts;
  const { schema, permission, resource } = checks;

  const denied = (c: ConnectionState, detail: Record<string, string>): void => {
    audit({
      type: 'permission.denied',
      connectionId: c.id,
      ip: c.ip,
      ...(c.principal ? { userId: c.principal.sub } : {}),
      detail,
    });
  };

  const authorize = (
    c: ConnectionState,
    value: unknown,
  ): MessageDecision | Promise<MessageDecision> => {
    // Undefined on an anonymous connection: it holds no permission and no resource.
    const principal = c.principal;
    if (permission) {
      const required = permission(value);
      if (required !== undefined && (!principal || !permissions.has(principal, required))) {
        denied(c, { permission: required });
        if (principal) penalize('user', principal.sub, 'permission', c);
        return verdicts.reply(
          c,
          'permission',
          { code: 'FORBIDDEN', message: `permission required: ${required}` },
          true,
        );
      }
    }
    if (resource) {
      const name = resource(value);
      if (name !== undefined) {
        const finish = (ok: boolean): MessageDecision => {
          if (ok) return verdicts.deliver(value);
          denied(c, { resource: name });
          return verdicts.reply(
            c,
            'permission',
            { code: 'FORBIDDEN', message: 'access denied' },
            true,
          );
        };
        if (!principal) return finish(false);
        const r = permissions.canAccess(principal, name);
        return r instanceof Promise ? r.then(finish) : finish(r);
      }
    }
    return verdicts.deliver(value);
  };

  return (c, value) => {
    if (!schema) return authorize(c, value);
    const finish = (
      r: Awaited<ReturnType<typeof validate>>,
    ): MessageDecision | Promise<MessageDecision> =>
      r.ok ? authorize(c, r.value) : invalid(c, 'schema', r.issues);
    const r = validate(schema, value, settings.maxIssues);
    return r instanceof Promise ? r.then(finish) : finish(r);
  };
}
