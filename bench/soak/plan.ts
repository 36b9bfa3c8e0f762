/**
 * What the soak's driver and its server share: the secret, the origin, the loopback address
 * pools and user names (the server counts leases over exactly these keys, so a lease held by
 * anyone the driver used is found), the frames, and the two sizes of the run.
 *
 * Runs under Node, Bun and Deno (the server imports it): Web-standard code only.
 *
 * @module
 */

/** The HS256 secret of the soak's guard. */
export const SOAK_SECRET = 'wsguard-soak-secret-0123456789-abcdefghijkl';
/** A key the guard does not know: tokens signed with it are forgeries. */
export const FORGERY_SECRET = 'not-the-soak-secret-0123456789-abcdefghijkl';
/** The origin the guard allows (browsers send one: so does every soak client but the hostile). */
export const SOAK_ORIGIN = 'https://chat.example.com';
/** An origin the guard refuses. */
export const FOREIGN_ORIGIN = 'https://evil.example.net';

/** First-message authentication deadline on the soak's guard (ms). */
export const AUTH_TIMEOUT_MS = 500;
/** How long the `principal` hook takes for `slow-*` users: the window a reset lands in (ms). */
export const SLOW_PRINCIPAL_MS = 10;

/** The 197-byte chat frame of the benchmarks: what good clients send. */
export const CHAT_FRAME: string = JSON.stringify({
  type: 'chat.send',
  id: '7f3c9a2e-4b1d-4e8a-9c6f-2d5b8e1a0c3f',
  room: 'general',
  text: 'Hello everyone! Has anyone tried the new release yet? The changelog looks great so far.',
  ts: 1718000000000,
});

/** `n` addresses `127.<a>.<b>.<c>` under `127.<a>.`, skipping .0 and .255 in the last octet. */
function pool(a: number, n: number): readonly string[] {
  return Array.from({ length: n }, (_, i) => `127.${a}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

/** `prefix-0` … `prefix-(n-1)`. */
function names(prefix: string, n: number): readonly string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

/**
 * Source addresses, one pool per kind of client, so the hostile ones' bans and scores never land
 * on the good ones (what they would share behind one NAT is the point of `ipv6Prefix`, not of a
 * soak). Per-IP limits stay at their defaults: the pools are big enough that good clients never
 * reach them (10 attempts per 10 s per address).
 */
export const IPS = {
  /** Good connect/authenticate/close cycles. */
  good: pool(50, 256),
  /** Hostile cycles: forged tokens, resets, sockets closed mid-auth. */
  hostile: pool(51, 256),
  /** Long-lived good streams (one address each). */
  stream: pool(52, 32),
  /** Hostile frame sessions: floods, oversized, malformed. */
  flood: pool(53, 128),
} as const;

/** User names, one list per kind of client. */
export const USERS = {
  good: names('user', 500),
  /** Users whose `principal` hook is slow (resets land while it runs). */
  slow: names('slow', 10),
  /** Hostile users with valid tokens (resets after open). */
  mallory: names('mallory', 20),
  stream: names('stream', 32),
  flood: names('flood', 16),
} as const;

/** Every address the driver may use: the server counts leases over these. */
export const ALL_IPS: readonly string[] = Object.values(IPS).flat();
/** Every user the driver may use (a forged token's `sub` never gets a lease). */
export const ALL_USERS: readonly string[] = Object.values(USERS).flat();

/** The size of a soak run. */
export interface SoakPlan {
  /** Connect/authenticate/close cycles (good and hostile, see `driver.ts`). */
  readonly cycles: number;
  /** Frames sent by streams and hostile frame sessions together. */
  readonly frames: number;
  /** Rounds: the work is cut in this many equal parts, with a memory sample after each. */
  readonly rounds: number;
  /**
   * Rounds of the same size run before the measured ones, and not counted in `cycles` and
   * `frames`: a process's first seconds (JIT, V8 reserving old space, the allocator's arenas,
   * the store's maps filling up with the address pools) are not its steady state.
   */
  readonly warmupRounds: number;
  /** Cycles in flight at once. */
  readonly concurrency: number;
  /** Long-lived good streams. */
  readonly streams: number;
  /** Frames in flight per stream. */
  readonly window: number;
  /** Share of `frames` sent by hostile frame sessions. */
  readonly hostileShare: number;
  /** Frames in one flood (one write). */
  readonly floodFrames: number;
}

/** The long form (`npm run soak`): the 10,000 cycles and 1,000,000 frames. */
export const LONG: SoakPlan = {
  cycles: 10_000,
  frames: 1_000_000,
  rounds: 40,
  // The first quarter (10 rounds, 6 s) is warm-up enough at this size.
  warmupRounds: 0,
  concurrency: 16,
  streams: 16,
  window: 16,
  hostileShare: 0.06,
  floodFrames: 1000,
};

/** The short form (`npm test`): a tenth of the cycles and a twentieth of the frames, measured. */
export const SHORT: SoakPlan = {
  cycles: 1_000,
  frames: 50_000,
  rounds: 16,
  // 12 rounds, about 2.5 s: Deno's reservation steps (2–3 s into a process) fall before Q2.
  warmupRounds: 12,
  concurrency: 16,
  streams: 8,
  window: 16,
  hostileShare: 0.06,
  floodFrames: 1000,
};
