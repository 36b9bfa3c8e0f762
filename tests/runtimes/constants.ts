/** Values the runtime suite and its fixture server share. */

/** The HS256 secret of the fixture's guards. */
export const FIXTURE_SECRET = 'wsguard-runtime-fixture-secret-0123456789';
/** The origin every fixture guard allows. */
export const FIXTURE_ORIGIN = 'https://app.example.com';
/** The only proxy the fixture trusts. */
export const TRUSTED_PROXY = '127.0.0.10';
