/**
 * The Node integrations (Express, Fastify, an existing `ws` app), guarded beside the framework's
 * own unguarded WebSocket, in one run: `npx tsx bench/integrations-node.bench.ts`. Prints a
 * markdown table.
 *
 * One server process (`bench/integrations-node-server.ts`, run as an esbuild bundle the way users
 * run the built package; `BENCH_TSX=1` runs it through tsx instead: see
 * `bench/integrations-cases.ts`) serves all six echoes; this process drives each with 8 `ws`
 * clients × 8 frames in flight of the 197-byte chat frame, the cases interleaved round by round
 * (so drift falls on all alike). The figure is the server's CPU per echoed frame (it does not
 * depend on how fast this driver is, which shares the two cores), and the guarded ÷ unguarded
 * ratio per round; frames/s is for orientation.
 *
 * Before/after in one run: with `WSGUARD_BASE` naming a checkout of an older commit (its
 * `node_modules` may be a symlink to this one's), that tree's server runs too, and every guarded
 * row comes twice, `before:` and `after:`, each against this checkout's unguarded row, with an
 * "after ÷ before" column:
 *
 * ```sh
 * git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/
 * WSGUARD_BASE=/tmp/base npx tsx bench/integrations-node.bench.ts
 * ```
 *
 * Bounded: `BENCH_ROUNDS` rounds (default 5) of `BENCH_FRAMES` frames per case (default 20,000);
 * the server processes are killed at the end, failure or interrupt alike.
 *
 * @module
 */
import { dirname, resolve } from 'node:path';
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
import { sidesOf } from './paired-rows.ts';
import { killServers, startServer } from './server-process.ts';
import { echoClients, wsUrl } from './socket-clients.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = 'bench/integrations-node-server.ts';
const beforeTree = baseTree([SERVER]);

async function start(tree: string): Promise<ServerInfo> {
  const [command, args] = await nodeCommand(tree, SERVER);
  const label = `integrations${tree === root ? '' : ' (base)'}`;
  return (await startServer<ServerInfo>(label, command, args, tree)).info;
}

/** The frameworks: row name, URL key (`<key>Bare`, `<key>Guarded`), the guarded row's name. */
const FRAMEWORKS = [
  ['express + ws (unguarded, app parses JSON)', 'express', 'express + guardExpress'],
  [
    'fastify + @fastify/websocket (unguarded, app parses JSON)',
    'fastify',
    'fastify + wsguardFastify',
  ],
  ['ws app (unguarded, app parses JSON)', 'ws', 'ws app + guardWebSocketServer'],
] as const;

async function main(): Promise<void> {
  const info = await start(root);
  const sides = sidesOf(info, beforeTree ? await start(beforeTree) : undefined);
  if (beforeTree) console.log(`before: ${beforeTree}\nafter: this checkout (${root})\n`);
  const cases: Case[] = [];
  for (const [bareName, key, guardedName] of FRAMEWORKS) {
    cases.push({
      name: bareName,
      clients: await echoClients(wsUrl(info.urls[`${key}Bare`]!)),
      cpu: cpuOf(info),
      cpus: [],
      rate: [],
    });
    for (const { prefix, server } of sides)
      cases.push({
        name: `${prefix}${guardedName}`,
        clients: await echoClients(wsUrl(server.urls[`${key}Guarded`]!), await bearerOf(server)),
        cpu: cpuOf(server),
        against: bareName,
        ...(prefix === 'after: ' ? { pair: `before: ${guardedName}` } : {}),
        cpus: [],
        rate: [],
      });
  }
  await runCases(cases);
  printCases(`Server CPU per echoed frame, Node ${process.version}`, cases);
  for (const c of cases) c.clients.close();
}

try {
  await main();
} finally {
  killServers();
}
