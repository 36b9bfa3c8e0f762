/**
 * The key table cannot drift from the option interfaces: each `@ts-expect-error` below is a table
 * that must not compile (`npm run typecheck` fails on an unused one, so a weaker `TableOf` that
 * accepted these would fail CI). The runtime cases check the table's shape against the interfaces'
 * nested option objects.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RejectReason } from '../../../src/core/codes.ts';
import type { RateRule } from '../../../src/core/rate-limit.ts';
import {
  GUARD_OPTION_KEYS,
  type KeyTable,
  type RuleFor,
  type TableOf,
} from '../../../src/guard/option-keys.ts';
import type { GuardOptions, LimitOptions } from '../../../src/guard/options.ts';
import type { Violation } from '../../../src/state/penalties.ts';

type Table = typeof GUARD_OPTION_KEYS;

describe('the key table is typed against GuardOptions', () => {
  it('names exactly the keys of GuardOptions', () => {
    expectTypeOf<keyof Table>().toEqualTypeOf<keyof GuardOptions>();
    // Nested tables: the enum-keyed maps follow their unions.
    expectTypeOf<keyof Exclude<Table['rejectModes'], string>>().toEqualTypeOf<RejectReason>();
    type Penalties = Exclude<Table['penalties'], string>;
    expectTypeOf<keyof Exclude<Penalties['points'], string>>().toEqualTypeOf<Violation>();
    expect(Object.keys(GUARD_OPTION_KEYS).length).toBeGreaterThan(20);
  });

  it('a table missing a key does not compile', () => {
    const { dryRun: _dropped, ...rest } = GUARD_OPTION_KEYS;
    // @ts-expect-error `dryRun` is missing
    const missing: TableOf<GuardOptions> = rest;
    const { burst: _b, ...noBurst } = {
      limit: 'value',
      windowMs: 'value',
      burst: 'value',
    } as const;
    // @ts-expect-error a rate rule table without `burst`
    const rule: TableOf<RateRule> = noBurst;
    expect([missing, rule]).toHaveLength(2);
  });

  it('a table naming a key the interface lacks does not compile', () => {
    const extra: TableOf<GuardOptions> = {
      ...GUARD_OPTION_KEYS,
      // @ts-expect-error `maxMessageSize` is not an option
      maxMessageSize: 'value',
    };
    const limits: TableOf<LimitOptions> = {
      ...(GUARD_OPTION_KEYS.limits as TableOf<LimitOptions>),
      // @ts-expect-error `maxConnections` is not a limit
      maxConnections: 'value',
    };
    expect([extra, limits]).toHaveLength(2);
  });

  it('an options object cannot be marked as a plain value, nor a primitive as nested', () => {
    const asValue: TableOf<GuardOptions> = {
      ...GUARD_OPTION_KEYS,
      // @ts-expect-error `limits` has nested keys: a table or 'data', never 'value'
      limits: 'value',
    };
    const asTable: TableOf<GuardOptions> = {
      ...GUARD_OPTION_KEYS,
      // @ts-expect-error `dryRun` is a boolean: it has no nested keys
      dryRun: {},
    };
    expect([asValue, asTable]).toHaveLength(2);
  });

  it('a union of object types (Jwk | CryptoKey) can only be data', () => {
    expectTypeOf<RuleFor<GuardOptions['jwt']>>().not.toEqualTypeOf<'data'>();
    type Jwt = NonNullable<GuardOptions['jwt']>;
    expectTypeOf<RuleFor<Jwt['publicKey']>>().toEqualTypeOf<'data'>();
    expectTypeOf<RuleFor<Jwt['jwks']>>().toEqualTypeOf<'data'>();
    expectTypeOf<RuleFor<Jwt['algorithms']>>().toEqualTypeOf<'value'>();
  });

  it('is a KeyTable for the walk', () => {
    const table: KeyTable = GUARD_OPTION_KEYS;
    expect(table).toBe(GUARD_OPTION_KEYS);
  });
});
