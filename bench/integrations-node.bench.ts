/**
 * The Node integrations (Express, Fastify, an existing `ws` app), guarded beside the framework's
 * own unguarded WebSocket, in one run: `npx tsx bench/integrations-node.bench.ts`. Prints a
 * markdown table.
 *
 * One server process (`bench/integrations-node-server.ts`) serves all six echoes; this process
 * drives each with 8 `ws` clients × 8 frames in flight of the 197-byte chat frame, the cases
 * interleaved round by round (so drift falls on all alike). The figure is the server's CPU per
 * echoed frame (it does not depend on how fast this driver is, which shares the two cores), and
 * the guarded ÷ unguarded ratio per round; frames/s is for orientation.
 *
 * Bounded: `BENCH_ROUNDS` rounds (default 5) of `BENCH_FRAMES` frames per case (default 20,000);
 * the server process is killed at the end, failure or interrupt alike.
 *
 * @module
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { killServers, startServer } from './server-process.ts';
import { type EchoClients, echoClients, wsUrl } from './socket-clients.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 20_000);

type Urls = Record<
  | 'control'
  | 'expressGuarded'
  | 'expressBare'
  | 'fastifyGuarded'
  | 'fastifyBare'
  | 'wsGuarded'
  | 'wsBare',
  string
>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const span = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

interface Case {
  readonly name: string;
  readonly clients: EchoClients;
  /** The unguarded case this one is compared with. */
  readonly against?: string;
  readonly cpu: number[];
  readonly rate: number[];
}

async function main(): Promise<void> {
  const { info } = await startServer<{ urls: Urls; secret: string }>(
    'integrations',
    process.execPath,
    ['--import', 'tsx', 'bench/integrations-node-server.ts'],
    root,
  );
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(info.secret));
  const bearer = { authorization: `Bearer ${token}` };
  const cpu = async (): Promise<number> =>
    ((await (await fetch(`${info.urls.control}/cpu`)).json()) as { cpuMicros: number }).cpuMicros;
  const make = async (name: string, url: string, against?: string): Promise<Case> => ({
    name,
    clients: await echoClients(wsUrl(url), against ? bearer : {}),
    ...(against ? { against } : {}),
    cpu: [],
    rate: [],
  });
  const cases = [
    await make('express + ws (unguarded, app parses JSON)', info.urls.expressBare),
    await make(
      'express + guardExpress',
      info.urls.expressGuarded,
      'express + ws (unguarded, app parses JSON)',
    ),
    await make('fastify + @fastify/websocket (unguarded, app parses JSON)', info.urls.fastifyBare),
    await make(
      'fastify + wsguardFastify',
      info.urls.fastifyGuarded,
      'fastify + @fastify/websocket (unguarded, app parses JSON)',
    ),
    await make('ws app (unguarded, app parses JSON)', info.urls.wsBare),
    await make(
      'ws app + guardWebSocketServer',
      info.urls.wsGuarded,
      'ws app (unguarded, app parses JSON)',
    ),
  ];
  for (const c of cases) await c.clients.run(2000); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length]!;
      const before = await cpu();
      const start = performance.now();
      await c.clients.run(FRAMES);
      const ms = performance.now() - start;
      c.cpu.push(((await cpu()) - before) / FRAMES);
      c.rate.push(FRAMES / (ms / 1000));
    }
  }
  console.log(
    `### Server CPU per echoed frame, Node ${process.version} (${ROUNDS} rounds × ${FRAMES} frames, 8 clients × 8 in flight, 197-byte JSON)\n`,
  );
  console.log(
    '| case | server CPU µs/frame (median) | range | guarded ÷ unguarded CPU (median) | range | frames/s (median) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cases) {
    const base = cases.find((o) => o.name === c.against);
    const ratios = base ? c.cpu.map((x, i) => x / base.cpu[i]!) : [];
    const ratio = base ? `${median(ratios).toFixed(2)} | ${span(ratios, 2)}` : '– | –';
    console.log(
      `| ${c.name} | ${median(c.cpu).toFixed(1)} | ${span(c.cpu, 1)} | ${ratio} | ${Math.round(median(c.rate))} |`,
    );
  }
  for (const c of cases) c.clients.close();
}

try {
  await main();
} finally {
  killServers();
}
