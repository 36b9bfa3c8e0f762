/**
 * What the sizing run's driver, servers and clients share: the secret and origin, the guard's
 * limits, the knobs read from the environment, and which source address, user and instance each
 * connection gets (a pure function of its index, so every process agrees without talking).
 *
 * @module
 */

/** The HS256 secret of every instance (tokens are signed with it by the clients). */
export const SIZING_SECRET = 'wsguard-sizing-secret-0123456789-abcdefghijkl';
/** The origin the guard allows; every client sends it, as a browser would. */
export const SIZING_ORIGIN = 'https://app.example.com';

/**
 * The guard's limits: the shipped defaults (20 connections per IP, 10 per user, 10 connection
 * attempts per 10 s per IP with a burst of 20), spelled out so the run says what it ran with.
 */
export const LIMITS = {
  maxConnectionsPerIp: 20,
  maxConnectionsPerUser: 10,
  connectRate: { limit: 10, windowMs: 10_000, burst: 20 },
} as const;

/**
 * Connections per source address and per user. 10 per address leaves half of the per-IP cap and
 * of the connect-rate burst free, so the ramp and one reconnect of every client both fit in the
 * burst; 5 per user is half the per-user cap.
 */
export const PER_IP = 10;
/** Connections per user (see {@link PER_IP}). */
export const PER_USER = 5;

/** Frames every connection sends in the frames phase (each answered by the app). */
export const FRAMES_PER_CONNECTION = 5;

/** The small JSON frame the clients send: the guard parses and checks it. */
export const CHAT_FRAME: string = JSON.stringify({
  type: 'chat.send',
  room: 'general',
  text: 'hello from the sizing run',
});

/** The run's knobs, from the environment. */
export interface Knobs {
  /** Guarded connections in all (`SIZING_CONNECTIONS`). */
  readonly connections: number;
  /** Guarded server processes (`SIZING_INSTANCES`). */
  readonly instances: number;
  /** Client processes the connections are split over (`SIZING_CLIENTS`). */
  readonly clients: number;
  /** Handshakes in flight per client process (`SIZING_CONCURRENCY`). */
  readonly concurrency: number;
  /** Wall-clock cap of the whole run in ms (`SIZING_MAX_MS`). */
  readonly maxMs: number;
  /** Redis (`REDIS_URL`). */
  readonly redisUrl: string;
  /**
   * The storm's drop (`SIZING_STORM_WINDOW_MS`): 0 (default), every socket closed with 1012; else
   * a shutdown's 1001 whose reason says `retry in <ms>`, drawn per socket over this window.
   */
  readonly stormWindowMs: number;
}

const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
};

/** The knobs with their defaults. */
export function knobs(): Knobs {
  return {
    connections: int('SIZING_CONNECTIONS', 20_000),
    instances: int('SIZING_INSTANCES', 4),
    clients: int('SIZING_CLIENTS', 2),
    concurrency: int('SIZING_CONCURRENCY', 64),
    maxMs: int('SIZING_MAX_MS', 360_000),
    redisUrl: process.env['REDIS_URL'] || 'redis://127.0.0.1:6379',
    stormWindowMs: Number(process.env['SIZING_STORM_WINDOW_MS'] ?? 0) || 0,
  };
}

/**
 * The source address of connection `i`: `127.<a>.<b>.<c>` from 127.60.0.1 on, `PER_IP`
 * connections each, .0 and .255 skipped (Linux routes all of 127/8 to loopback).
 */
export function addressOf(i: number): string {
  const k = Math.floor(i / PER_IP);
  const a = 60 + Math.floor(k / 62_500);
  const b = Math.floor(k / 250) % 250;
  return `127.${a}.${b}.${(k % 250) + 1}`;
}

/**
 * The user of connection `i`: `PER_USER` consecutive connections each, so a user's connections
 * come from one address (a browser's tabs) and, by {@link instanceOf}, land on several instances.
 */
export function userOf(i: number): string {
  return `user-${Math.floor(i / PER_USER)}`;
}

/** The instance connection `i` opens its socket on (round robin, a load balancer's choice). */
export function instanceOf(i: number, instances: number): number {
  return i % instances;
}

/**
 * The instance connection `i` fetches its ticket from: the next one, so every ticket is redeemed
 * on another instance than the one that issued it (what a load balancer without stickiness does).
 */
export function ticketInstanceOf(i: number, instances: number): number {
  return (i + 1) % instances;
}
