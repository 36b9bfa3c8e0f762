/**
 * The web-framework integrations (Hono on Node and Bun, h3 on Node, Elysia on Bun), guarded beside
 * the framework's own unguarded WebSocket, in one run: `npx tsx bench/integrations-web.bench.ts`.
 * Prints a markdown table.
 *
 * Two server processes (`bench/integrations-web-server.ts` under Node, as an esbuild bundle the
 * way users run the built package, or through tsx with `BENCH_TSX=1`, see
 * `bench/integrations-cases.ts`; and under Bun, from the sources) serve the eight echoes; this
 * process drives each with 8 `ws` clients × 8 frames in flight of the 197-byte chat frame, the
 * cases interleaved round by round (so drift falls on all alike). The figure is the server's CPU
 * per echoed frame (it does not depend on how fast this driver is, which shares the two cores),
 * and the guarded ÷ unguarded ratio per round; frames/s is for orientation.
 *
 * Before/after in one run: with `WSGUARD_BASE` naming a checkout of an older commit (its
 * `node_modules` may be a symlink to this one's), that tree's servers run too, and every guarded
 * row comes twice, `before:` and `after:`, each against this checkout's unguarded row, with an
 * "after ÷ before" column (see `bench/integrations-node.bench.ts`). `BENCH_RUNTIMES=node` (or
 * `bun`) runs one runtime's servers only.
 *
 * Bounded: `BENCH_ROUNDS` rounds (default 5) of `BENCH_FRAMES` frames per case (default 20,000);
 * the server processes are killed at the end, failure or interrupt alike.
 *
 * @module
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseTree } from './base-tree.ts';
import {
  bearerOf,
  type Case,
  cpuOf,
  nodeCommand,
  printCases,
  runCases,
  type ServerInfo,
} from './integrations-cases.ts';
import { type Side, sidesOf } from './paired-rows.ts';
import { killServers, startServer } from './server-process.ts';
import { echoClients, wsUrl } from './socket-clients.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = 'bench/integrations-web-server.ts';
const beforeTree = baseTree([SERVER]);
type Runtime = 'node' | 'bun';
const runtimes = (process.env.BENCH_RUNTIMES ?? 'node,bun').split(',') as Runtime[];

async function start(runtime: Runtime, tree: string): Promise<ServerInfo> {
  const [command, args] =
    runtime === 'node'
      ? await nodeCommand(tree, SERVER)
      : [join(root, 'node_modules/.bin/bun'), ['run', join(tree, SERVER)]];
  const label = `${runtime}${tree === root ? '' : ' (base)'}`;
  return (await startServer<ServerInfo>(label, command, args, tree)).info;
}

/** The unguarded case of one framework (this checkout's server), then its guarded case per side. */
async function pair(
  sides: readonly Side<ServerInfo>[],
  name: string,
  key: string,
  bare: string,
): Promise<Case[]> {
  const info = sides[sides.length - 1]!.server; // this checkout's
  const bareName = `${name}: ${bare} (unguarded, app parses JSON)`;
  const cases: Case[] = [
    {
      name: bareName,
      clients: await echoClients(wsUrl(info.urls[`${key}Bare`]!)),
      cpu: cpuOf(info),
      cpus: [],
      rate: [],
    },
  ];
  for (const { prefix, server } of sides)
    cases.push({
      name: `${prefix}${name}: wsguard`,
      clients: await echoClients(wsUrl(server.urls[`${key}Guarded`]!), await bearerOf(server)),
      cpu: cpuOf(server),
      against: bareName,
      ...(prefix === 'after: ' ? { pair: `before: ${name}: wsguard` } : {}),
      cpus: [],
      rate: [],
    });
  return cases;
}

async function sidesFor(runtime: Runtime): Promise<readonly Side<ServerInfo>[]> {
  const after = await start(runtime, root);
  return sidesOf(after, beforeTree ? await start(runtime, beforeTree) : undefined);
}

async function main(): Promise<void> {
  if (beforeTree) console.log(`before: ${beforeTree}\nafter: this checkout (${root})\n`);
  const cases: Case[] = [];
  if (runtimes.includes('node')) {
    const node = await sidesFor('node');
    cases.push(...(await pair(node, `Hono on Node ${process.version}`, 'hono', '@hono/node-ws')));
    cases.push(
      ...(await pair(node, 'h3 on Node', 'h3', 'defineWebSocketHandler + crossws plugin')),
    );
  }
  if (runtimes.includes('bun')) {
    const bun = await sidesFor('bun');
    cases.push(...(await pair(bun, 'Hono on Bun', 'hono', 'hono/bun upgradeWebSocket')));
    cases.push(...(await pair(bun, 'Elysia on Bun', 'elysia', '.ws()')));
  }
  await runCases(cases);
  printCases('Server CPU per echoed frame', cases);
  for (const c of cases) c.clients.close();
}

try {
  await main();
} finally {
  killServers();
}
