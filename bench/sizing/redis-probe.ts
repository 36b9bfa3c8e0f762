/**
 * What Redis did, read from its own counters: `INFO commandstats` (calls and µs per command),
 * `INFO stats` (`total_commands_processed`) and `INFO cpu` (`used_cpu_user` + `used_cpu_sys`).
 * A phase's cost is the difference of two readings. The probe's own `INFO` calls are counted by
 * Redis too; they are left out of the per-command figures (the `info` row) and are negligible
 * beside the run's commands in the totals (ten a second while the storm is sampled).
 *
 * @module
 */
import type { Redis } from 'ioredis';

/** One reading of Redis's counters. */
export interface RedisReading {
  /** When it was taken (ms, `performance.now()`). */
  readonly at: number;
  /** Commands processed since Redis started. */
  readonly total: number;
  /** CPU seconds Redis used since it started (user + system). */
  readonly cpuSec: number;
  /** Calls and µs per command, when read with `commands`. */
  readonly commands?: ReadonlyMap<string, { readonly calls: number; readonly usec: number }>;
}

const field = (info: string, name: string): number => {
  const m = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : Number.NaN;
};

/** Read the counters; `commands` adds the per-command table (a larger reply). */
export async function readRedis(redis: Redis, commands = false): Promise<RedisReading> {
  const [stats, cpu, cmd] = await Promise.all([
    redis.info('stats'),
    redis.info('cpu'),
    commands ? redis.info('commandstats') : Promise.resolve(''),
  ]);
  const reading = {
    at: performance.now(),
    total: field(stats, 'total_commands_processed'),
    cpuSec: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys'),
  };
  if (!commands) return reading;
  const map = new Map<string, { calls: number; usec: number }>();
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    map.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return { ...reading, commands: map };
}

/** The difference of two readings. */
export interface RedisDelta {
  readonly ms: number;
  /** Commands the run sent (the probe's `info` calls left out when the table was read). */
  readonly commands: number;
  readonly cpuSec: number;
  /** Per command: calls and µs inside Redis, `info` left out. */
  readonly byCommand: ReadonlyMap<string, { readonly calls: number; readonly usec: number }>;
}

/** `after` minus `before`. */
export function redisDelta(before: RedisReading, after: RedisReading): RedisDelta {
  const byCommand = new Map<string, { calls: number; usec: number }>();
  let info = 0;
  if (before.commands && after.commands) {
    for (const [name, a] of after.commands) {
      const b = before.commands.get(name) ?? { calls: 0, usec: 0 };
      if (a.calls === b.calls) continue;
      if (name === 'info') info = a.calls - b.calls;
      else byCommand.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
    }
  }
  return {
    ms: after.at - before.at,
    commands: after.total - before.total - info,
    cpuSec: after.cpuSec - before.cpuSec,
    byCommand,
  };
}

/** Remove every key under `prefix` (SCAN + UNLINK, 500 at a time); resolves with the count. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (let k = 0; k < keys.length; k += 500) {
      const chunk = keys.slice(k, k + 500);
      if (chunk.length > 0) n += await redis.unlink(...chunk);
    }
  } while (cursor !== '0');
  return n;
}
