/**
 * Synchronous hashing and HMAC from `node:crypto`, where the runtime offers it through
 * `process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno), and `undefined` everywhere else.
 *
 * Why at all: a Web Crypto `digest` or `verify` is a job on the runtime's thread pool. Its
 * hand-off cost 0.1–0.45 ms of a handshake on a loaded machine, against a few microseconds for the
 * same work done synchronously (docs/benchmarks.md, "Where the time goes"). Every caller keeps a
 * Web Crypto path with the same result for runtimes without `node:crypto`.
 *
 * This is the one place in `src/` that reaches for a runtime module; it is feature-detected, never
 * imported, so the core still loads on any Web-standard runtime.
 *
 * @module
 */

/** The part of a `node:crypto` `Hash`/`Hmac` the core uses. */
export interface SyncDigest {
  /** Feed data; strings as UTF-8 (or Latin-1 for ASCII-only input, which is the same bytes). */
  update(data: string | Uint8Array, encoding?: 'utf8' | 'latin1'): SyncDigest;
  /** The digest as raw bytes. */
  digest(): Uint8Array;
  /** The digest in an encoding. */
  digest(encoding: 'hex' | 'base64url'): string;
}

/** The `node:crypto` functions the core uses. */
export interface SyncCrypto {
  /**
   * One-shot hash of a string (UTF-8), Node ≥ 20.12, Bun, Deno: about half the cost of
   * `createHash` + `update` + `digest` (no object per call). Absent on older runtimes.
   */
  hash?(algorithm: string, data: string, encoding: 'hex'): string;
  /** A hash (`sha256`, …). */
  createHash(algorithm: string): SyncDigest;
  /** An HMAC keyed with `key`. */
  createHmac(algorithm: string, key: Uint8Array): SyncDigest;
  /** Equal-length byte comparison whose time does not depend on where the bytes differ. */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

/** `node:crypto` where the runtime has `process.getBuiltinModule`, else undefined. */
export const syncCrypto: SyncCrypto | undefined = ((): SyncCrypto | undefined => {
  try {
    const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const mod = p?.getBuiltinModule?.('node:crypto') as Partial<SyncCrypto> | undefined;
    return typeof mod?.createHash === 'function' &&
      typeof mod.createHmac === 'function' &&
      typeof mod.timingSafeEqual === 'function'
      ? (mod as SyncCrypto)
      : undefined;
  } catch {
    return undefined;
  }
})();
