/**
 * The files `wsguard init` writes, as text built from the chosen runtime and features. They
 * follow the README's snippets: a guarded server with the ticket route, and a client that gets a
 * ticket and obeys the close-code contract.
 *
 * @module
 */

import { frameworkServer } from './init-frameworks.ts';
import { ENV, featureImports, guardBlock, hooksExpr, type InitChoice } from './init-guard.ts';

export type { InitChoice } from './init-guard.ts';

/** One file to write, relative to the target directory. */
export interface Template {
  readonly path: string;
  readonly text: string;
}

/** The server on wsguard's own `serve()` for the runtime (no framework). */
function serverFile(c: InitChoice): string {
  const env = ENV[c.runtime];
  const lines = [
    `// The guarded WebSocket server (${c.runtime}), written by \`wsguard init\`.`,
    "// JWT_SECRET: 32 or more random bytes (openssl rand -hex 32); APP_ORIGIN: your page's origin.",
    ...(c.redis ? ["import { Redis } from 'ioredis';"] : []),
    "import { createGuard } from 'wsguard';",
    `import { serve } from 'wsguard/adapters/${c.runtime}';`,
    ...featureImports(c),
    ...guardBlock(c),
    'const server = await serve({',
    '  guard,',
    `  port: Number(${env('PORT')} ?? 8787),`,
    `  hooks: ${hooksExpr(c)},`,
    '});',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated file's own template string
    "console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\\n  ${guard.describe()}`);",
  ];
  return `${lines.join('\n')}\n`;
}

const ROUTER = `// The tRPC router behind the guard, written by \`wsguard init\`.
import { initTRPC } from '@trpc/server';
import type { GuardedContext, GuardedMeta } from 'wsguard/trpc';

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();

export const router = t.router({
  // Every procedure names the permission it needs; the guard refuses calls without it.
  whoami: t.procedure.meta({ permission: 'app.read' }).query(({ ctx }) => ({ user: ctx.principal.sub })),
});
/** The client imports this type, and nothing else, from the server. */
export type AppRouter = typeof router;
`;

const TRPC_CLIENT = `// The browser client, written by \`wsguard init\`: a one-time ticket per connect, the close codes obeyed.
import { createTRPCClient, wsLink } from '@trpc/client';
import { createGuardedWSClient, fetchTicket } from 'wsguard/client';
import type { AppRouter } from './router.ts';

/** Connect; \`token\` is the JWT your login issued. */
export function connect(token: string) {
  const ws = createGuardedWSClient({
    url: \`\${location.origin.replace(/^http/, 'ws')}/ws\`,
    getTicket: () => fetchTicket('/ws/ticket', { headers: { authorization: \`Bearer \${token}\` } }),
    onStop: (stop) => console.error(\`stopped (\${stop.kind}, \${stop.code}): \${stop.reason}\`),
  });
  const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws.client })] });
  return { trpc, close: () => ws.close() };
}
`;

const PLAIN_CLIENT = `// The browser client, written by \`wsguard init\`: a one-time ticket per connect, the close codes obeyed.
import { closeAction, fetchTicket } from 'wsguard/client';

/** Open a socket with a fresh ticket; \`token\` is the JWT your login issued. */
export async function connect(token: string, onMessage: (data: unknown) => void): Promise<WebSocket> {
  const ticket = await fetchTicket('/ws/ticket', { headers: { authorization: \`Bearer \${token}\` } });
  const ws = new WebSocket(\`\${location.origin.replace(/^http/, 'ws')}/ws?ticket=\${encodeURIComponent(ticket)}\`);
  ws.addEventListener('message', (e) => onMessage(JSON.parse(String(e.data))));
  ws.addEventListener('close', (e) => {
    // 'stop' (4001/4003/4030): log in again; 'refresh' (4002): new token; 'backoff': retry later.
    console.info(\`closed \${e.code}: \${closeAction(e.code)}\`);
  });
  return ws;
}
`;

/** The files for `c`, paths relative to the target directory. */
export function templates(c: InitChoice): Template[] {
  const server = c.framework !== undefined ? frameworkServer(c, c.framework) : serverFile(c);
  const files: Template[] = [{ path: 'wsguard/server.ts', text: server }];
  if (c.trpc) files.push({ path: 'wsguard/router.ts', text: ROUTER });
  files.push({ path: 'wsguard/client.ts', text: c.trpc ? TRPC_CLIENT : PLAIN_CLIENT });
  return files;
}
