/** Values the tRPC runtime suite and its fixture server share. */

/** The HS256 secret of the fixture's guards. */
export const TRPC_FIXTURE_SECRET = 'wsguard-trpc-runtime-fixture-secret-0123456789';
/** The origin every fixture guard allows (clients of the suite send none, which is allowed). */
export const TRPC_FIXTURE_ORIGIN = 'https://app.example.com';
/** Per-connection message budget of the `tight` server: a burst of this many frames, then 1/s. */
export const TIGHT_BURST = 4;
/** Deepest JSON the `tight` server accepts (deeper calls are refused by the guard). */
export const TIGHT_MAX_DEPTH = 8;
/** Calls per batch frame on the `main` server. */
export const MAIN_MAX_BATCH = 20;
/** Live subscriptions per connection on the `main` server. */
export const MAIN_MAX_SUBSCRIPTIONS = 3;
