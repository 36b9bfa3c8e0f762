/**
 * The part every scaffolded server shares, whatever serves it (the environment lookups, the
 * secret check, the Redis client, the `createGuard` call and the hooks), and the choice
 * `wsguard init` was given. The hooks are an echo, or the tRPC bridge.
 *
 * @module
 */

/** A web framework `wsguard init --framework` can mount the guard on. */
export type Framework = 'hono' | 'express' | 'fastify' | 'elysia' | 'h3' | 'ws';

/** What `wsguard init` scaffolds for. */
export interface InitChoice {
  readonly runtime: 'node' | 'bun' | 'deno';
  /** Mount on this framework's integration (`wsguard/<framework>`) instead of `serve()`. */
  readonly framework?: Framework;
  readonly trpc: boolean;
  readonly redis: boolean;
}

/** How the runtime reads an environment variable, as source text. */
export const ENV: Record<InitChoice['runtime'], (name: string) => string> = {
  node: (n) => `process.env.${n}`,
  bun: (n) => `Bun.env.${n}`,
  deno: (n) => `Deno.env.get('${n}')`,
};

/** The imports the guard block needs (Redis, tRPC), after the server's own. */
export function featureImports(c: InitChoice): string[] {
  return [
    ...(c.redis ? ["import { createRedisStore, REDIS_CLIENT_OPTIONS } from 'wsguard/redis';"] : []),
    ...(c.trpc
      ? [
          "import { createTRPCBridge, trpcHooks } from 'wsguard/trpc';",
          "import { router } from './router.ts';",
        ]
      : []),
  ];
}

/** The secret check, the Redis client and `const guard = createGuard({ … });`. */
export function guardBlock(c: InitChoice): string[] {
  const env = ENV[c.runtime];
  const lines = [
    '',
    `const secret = ${env('JWT_SECRET')};`,
    "if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');",
  ];
  if (c.redis)
    lines.push(
      `const redis = new Redis(${env('REDIS_URL')} ?? 'redis://127.0.0.1:6379', REDIS_CLIENT_OPTIONS);`,
      '// The store fails closed (503) while Redis is down: log, do not crash.',
      "redis.on('error', (error: Error) => console.error('redis:', error.message));",
    );
  lines.push(
    '',
    'const guard = createGuard({',
    `  origins: [${env('APP_ORIGIN')} ?? 'http://localhost:5173'],`,
    "  jwt: { algorithms: ['HS256'], secret },",
    `  tickets: true, // ${c.framework ? 'the ticket route below' : 'serve() answers POST /ws/ticket'}`,
    ...(c.trpc ? ["  permissions: { roles: { user: ['app.*'] } },"] : []),
    ...(c.redis
      ? [
          '  store: createRedisStore({ client: redis, ownsClient: true }),',
          '  requireSharedStore: true,',
        ]
      : []),
    '});',
  );
  return lines;
}

/** The hooks as an expression: the tRPC bridge, or an echo of each parsed frame. */
export function hooksExpr(c: InitChoice): string {
  return c.trpc
    ? 'trpcHooks(createTRPCBridge({ router, guard }))'
    : '{ message: (peer, _m, { value }) => peer.send(JSON.stringify({ echo: value })) }';
}

/** `const port = …; const host = …;` from the environment. */
export function listenConsts(c: InitChoice): string[] {
  const env = ENV[c.runtime];
  return [
    `const port = Number(${env('PORT')} ?? 8787);`,
    `const host = ${env('HOST')} ?? '127.0.0.1';`,
  ];
}
