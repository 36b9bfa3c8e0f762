/**
 * The store as the guard uses it, and the secrets it must never log: built from the options
 * once, at creation.
 *
 * @module
 */
import type { AuditEmitter } from '../observability/audit.ts';
import type { Reporter } from '../observability/report.ts';
import type { Store } from '../store/contract.ts';
import { failClosed } from '../store/fail-closed.ts';
import { withLocalFallback } from '../store/fallback.ts';
import { createMemoryStore, isMemoryStore } from '../store/memory.ts';
import type { GuardOptions } from './options.ts';

/**
 * The app's store (`raw`, what `guard.store` shows) and the guard's view of it (`store`): the
 * memory store as is — it cannot be unavailable, and a throw from it is a bug answered 500 like
 * any other — every other store fail-closed, with the local fallback when
 * `limits.onStoreError` is `'local'`.
 */
export function buildStore(
  options: GuardOptions,
  now: () => number,
  report: Reporter,
  audit: AuditEmitter,
): { raw: Store; store: Store } {
  const raw = options.store ?? createMemoryStore({ now });
  const guarded = isMemoryStore(raw) ? raw : failClosed(raw);
  const store =
    options.limits?.onStoreError === 'local'
      ? withLocalFallback(guarded, (operation, error) => {
          report('store')(error);
          audit({
            type: 'store.error',
            reason: 'store_unavailable',
            detail: { fallback: operation },
          });
        })
      : guarded;
  return { raw, store };
}

/** The query and form parameters that carry secrets here, lower-cased, masked in every event. */
export function secretParamsOf(options: GuardOptions): string[] {
  const credentials = options.credentials;
  return [
    typeof credentials?.ticket === 'object' ? credentials.ticket.param : undefined,
    typeof credentials?.query === 'object' ? credentials.query.param : undefined,
    credentials?.cookie?.csrf?.param,
  ]
    .filter((p): p is string => typeof p === 'string')
    .map((p) => p.toLowerCase());
}
