/**
 * Error replies without stack traces unless the app asks for them. tRPC puts the server's stack
 * (file paths, line numbers, dependency versions) in `error.data.stack` whenever its `isDev` is on,
 * and `isDev` defaults to on unless `NODE_ENV` is exactly `'production'`: a server started without
 * `NODE_ENV` (a container, `node server.js`, a systemd unit) told every client where its code
 * lives. The bridge therefore decides alone, from its own `exposeStackTraces` option: tRPC's shape
 * is built with `isDev` set to that option, and what a procedure's `.errors()` formatter or the
 * root `errorFormatter` computed with tRPC's own `isDev` is stripped of its stack afterwards.
 *
 * @module
 */
import type { AnyRouter } from '@trpc/server';

/** The root config of a router, as `getErrorShape` reads it. */
export type RouterConfig = AnyRouter['_def']['_config'];

/**
 * The config the bridge builds error shapes with: the router's own, with `isDev` replaced by the
 * bridge's decision (tRPC's default shape adds `data.stack` exactly when `isDev` is on).
 */
export function shapeConfig(config: RouterConfig, exposeStackTraces: boolean): RouterConfig {
  return { ...config, isDev: exposeStackTraces };
}

/** Whether `value` is a plain record that has `key` of its own. */
function holds(value: unknown, key: string): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, key);
}

/** A copy of `record` without `key` (the original may be a shape tRPC caches on the error). */
function without(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(record)) if (k !== key) copy[k] = record[k];
  return copy;
}

/**
 * `shape` without a `stack` at its top or in its `data`: the places tRPC's default shape and the
 * usual formatters (`{ ...shape, data: { ...shape.data, … } }`) carry one. An `Error` a formatter
 * copies in elsewhere serializes without its stack (it is not enumerable), so these two places
 * are all a shape has. The shape is copied, never changed: tRPC keeps a procedure's formatted
 * shape on the error object.
 */
export function withoutStack(shape: unknown): unknown {
  if (typeof shape !== 'object' || shape === null || Array.isArray(shape)) return shape;
  let out = shape as Record<string, unknown>;
  if (holds(out, 'stack')) out = without(out, 'stack');
  const data = out['data'];
  if (holds(data, 'stack') && !Array.isArray(data)) {
    if (out === shape) out = { ...out };
    out['data'] = without(data, 'stack');
  }
  return out;
}
