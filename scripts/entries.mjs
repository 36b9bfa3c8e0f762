/**
 * The one source of truth for wsguard's public entry points: npm subpath → source file.
 * tsdown builds these, package.json `exports` and jsr.json / deno.json `exports` are checked
 * against this list by scripts/check-exports.mjs, both ways.
 */
export const ENTRIES = {
  '.': 'src/mod.ts',
  './trpc': 'src/trpc.ts',
  './client': 'src/client.ts',
  './redis': 'src/redis.ts',
  './adapters/node': 'adapters/node.ts',
  './adapters/bun': 'adapters/bun.ts',
  './adapters/deno': 'adapters/deno.ts',
  './express': 'adapters/express.ts',
  './fastify': 'adapters/fastify.ts',
  './ws': 'adapters/ws.ts',
  './hono': 'adapters/hono.ts',
  './elysia': 'adapters/elysia.ts',
  './h3': 'adapters/h3.ts',
};

/** The CLI, npm only (it runs on Node). */
export const BIN = { wsguard: 'cli/main.ts' };

/**
 * The dist file name (without extension) for an npm subpath: the source's base name, because the
 * bundler names declaration files after their source files.
 */
export function distName(subpath) {
  const file = ENTRIES[subpath];
  return file.slice(file.lastIndexOf('/') + 1, -'.ts'.length);
}
