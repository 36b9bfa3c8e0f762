/**
 * The one door to tRPC's internals. `@trpc/server/unstable-core-do-not-import` is not part of
 * tRPC's public API: it may change in any release, minor or patch. Everything the bridge needs
 * from it is re-exported here and nowhere else is it imported, so an upgrade of `@trpc/server`
 * is checked against this file alone (and the tests in `tests/trpc*`). What tRPC exports
 * publicly (`TRPCError`, `getErrorShape`, `getTRPCErrorFromUnknown`, `isTrackedEnvelope`,
 * `transformTRPCResponse` from `@trpc/server`, the observable helpers from
 * `@trpc/server/observable`) is imported from there instead.
 *
 * @module
 */

export {
  /**
   * tRPC's identity transformer, the one a router without a `transformer` gets. Compared by
   * identity to skip `transformTRPCResponse`, which then only copies every response.
   */
  defaultTransformer,
  /**
   * The lookup `callProcedure` uses, lazy routers loaded on the way: the bridge checks a
   * procedure's `meta.permission` on the very procedure tRPC would run.
   */
  getProcedureAtPath,
  /**
   * The `connectionParams` message validated as `@trpc/server/adapters/ws` validates it, so what
   * `createContext` receives is what it would receive from tRPC's own adapter.
   */
  parseConnectionParamsFromUnknown,
  /**
   * A client frame read and its input deserialized exactly as `@trpc/server/adapters/ws` reads
   * it: the wire protocol the unmodified `wsLink` speaks.
   */
  parseTRPCMessage,
  /** What {@link parseTRPCMessage} returns: a call, or the stop of a subscription. */
  type TRPCClientOutgoingMessage,
} from '@trpc/server/unstable-core-do-not-import';
