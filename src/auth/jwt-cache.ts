/**
 * Tokens this verifier has verified, remembered by their exact text, so that a client reconnecting
 * with the token it holds is not decoded and its signature not computed again. That is the usual
 * way a token comes back: a network blip, a second tab, a redeploy that drops every socket.
 *
 * What a hit skips is only what cannot change for one text: the canonical spelling, the
 * signature, `alg`, `typ`, `iss`, `aud` and the required claims. The checks that depend on the
 * clock (`exp`, `nbf`, the `iat` rules, `maxTokenAgeSec`) run again on every hit, on the claims
 * kept, by the same functions as on a miss (`recheck` in `jwt.ts`): a remembered token expires
 * exactly when an unremembered one would.
 *
 * A text is remembered from its second verification on (`doorkeeper` below): where every client
 * holds its own token, most are seen once, and an entry for each would only be promoted and then
 * collected in the old generation (a tenth of the guard's CPU per handshake, measured).
 *
 * Only verified tokens are kept, so a forged or altered text is never an entry: it is a different
 * string, a miss, and fully verified. Bounded: at most `max` entries (the oldest goes first) and
 * only texts up to {@link MAX_CACHED_TOKEN_CHARS} long, so the cache holds a few hundred KiB at
 * most whatever clients send.
 *
 * Each entry carries the version of the keys that verified it (`ImportedKeys.version` in
 * `jwt-keys.ts`): a hit counts only under the same version. Static keys have one version for
 * ever; a remote key set has a new one at each reload jose applies (a token with an unknown
 * `kid`, the set's max age), and none while jose's copy is stale. So a key removed from the set stops verifying its
 * remembered tokens exactly when it stops verifying new ones, and a set that cannot be fetched
 * fails the same for both.
 *
 * @module
 */
import type { JWTPayload } from 'jose';

/** Longer token texts are not remembered (they are verified every time). */
export const MAX_CACHED_TOKEN_CHARS = 4096;

/** A bounded map of token text to the claims it verified to. */
export interface VerifiedTokens {
  /** The claims `token` verified to under the keys of `version`, if remembered. */
  get(token: string, version: unknown): JWTPayload | undefined;
  /**
   * Remember that `token` verified to `claims` under the keys of `version` (read before it was
   * verified), if it has been verified before. `undefined`: keys that cannot vouch (not kept).
   */
  set(token: string, claims: JWTPayload, version: unknown): void;
  /** Forget `token` (its clock checks failed on a hit). */
  delete(token: string): void;
  /** Entries held (for tests and stats). */
  readonly size: number;
}

/** How many to keep. */
export interface VerifiedTokensOptions {
  /** Entries at most; the oldest is dropped for a new one. */
  readonly max: number;
}

interface Entry {
  readonly claims: JWTPayload;
  readonly version: unknown;
}

/** Marks of the doorkeeper: one bit each, 8 KiB per verifier. */
const DOOR_MARKS = 65_536;
/** The marks are cleared at this many: a mark is then set for one text in sixteen on average. */
const DOOR_CLEAR_AT = DOOR_MARKS / 8;

/**
 * Whether a verified text has been verified before, as far as a table of marks can tell: the
 * first verification sets a mark chosen by three characters near the end of the signature
 * (random for any token nobody else can sign; the very last one carries only some bits), and
 * the next text to land on a set mark is admitted. The marks are cleared once an eighth are set,
 * so about one new token in sixteen is let in at once by a stale mark: harmless (it is verified),
 * only an entry the cache did not need.
 */
function doorkeeper(): (token: string) => boolean {
  const marks = new Uint32Array(DOOR_MARKS / 32);
  let set = 0;
  return (token) => {
    const n = token.length;
    const mark =
      (Math.imul(token.charCodeAt(n - 2), 0x9e3779b1) ^
        Math.imul(token.charCodeAt(n - 3), 0x85ebca77) ^
        Math.imul(token.charCodeAt(n - 4), 0xc2b2ae3d)) >>>
      16;
    const word = mark >>> 5;
    const bit = 1 << (mark & 31);
    if ((marks[word]! & bit) !== 0) return true;
    marks[word]! |= bit;
    if (++set >= DOOR_CLEAR_AT) {
      marks.fill(0);
      set = 0;
    }
    return false;
  };
}

/** A cache of verified tokens, or `undefined` when `max` is 0 (no caching). */
export function createVerifiedTokens(options: VerifiedTokensOptions): VerifiedTokens | undefined {
  const { max } = options;
  if (max <= 0) return undefined;
  const entries = new Map<string, Entry>();
  const seenBefore = doorkeeper();
  // A live iterator at the oldest key: a fresh `keys()` per eviction would walk the holes that
  // earlier evictions left at the head of the table (V8 compacts it only on rehash).
  let oldest: Iterator<string> | undefined;
  const evictOldest = (): void => {
    let next = oldest?.next();
    if (next === undefined || next.done) {
      oldest = entries.keys();
      next = oldest.next();
    }
    if (!next.done) entries.delete(next.value);
  };
  return {
    get(token, version) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      if (version === undefined || entry.version !== version) {
        entries.delete(token);
        return undefined;
      }
      return entry.claims;
    },
    set(token, claims, version) {
      if (version === undefined || token.length > MAX_CACHED_TOKEN_CHARS) return;
      if (entries.has(token) || !seenBefore(token)) return;
      // Insertion order is age order: the first key is the oldest entry.
      while (entries.size >= max) evictOldest();
      entries.set(token, { claims, version });
    },
    delete(token) {
      entries.delete(token);
    },
    get size() {
      return entries.size;
    },
  };
}
