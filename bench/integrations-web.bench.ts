/**
 * The web-framework integrations (Hono on Node and Bun, h3 on Node, Elysia on Bun), guarded beside
 * the framework's own unguarded WebSocket, in one run: `npx tsx bench/integrations-web.bench.ts`.
 * Prints a markdown table.
 *
 * Two server processes (`bench/integrations-web-server.ts` under Node and under Bun) serve the
 * eight echoes; this process drives each with 8 `ws` clients × 8 frames in flight of the 197-byte
 * chat frame, the cases interleaved round by round (so drift falls on all alike). The figure is
 * the server's CPU per echoed frame (it does not depend on how fast this driver is, which shares
 * the two cores), and the guarded ÷ unguarded ratio per round; frames/s is for orientation.
 *
 * Bounded: `BENCH_ROUNDS` rounds (default 5) of `BENCH_FRAMES` frames per case (default 20,000);
 * the server processes are killed at the end, failure or interrupt alike.
 *
 * @module
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { killServers, startServer } from './server-process.ts';
import { type EchoClients, echoClients, wsUrl } from './socket-clients.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 20_000);
const SERVER = 'bench/integrations-web-server.ts';

type Info = { urls: Record<string, string>; secret: string };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const span = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

interface Case {
  readonly name: string;
  readonly clients: EchoClients;
  /** The process's CPU counter. */
  readonly cpu: () => Promise<number>;
  /** The unguarded case this one is compared with. */
  readonly against?: string;
  readonly cpus: number[];
  readonly rate: number[];
}

const cpuOf = (info: Info) => async (): Promise<number> =>
  ((await (await fetch(`${info.urls.control}/cpu`)).json()) as { cpuMicros: number }).cpuMicros;

const bearerOf = async (info: Info) => ({
  authorization: `Bearer ${await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(info.secret))}`,
});

/** The guarded and unguarded case of one framework in one server process. */
async function pair(info: Info, name: string, key: string, bare: string): Promise<Case[]> {
  const cpu = cpuOf(info);
  const bareName = `${name}: ${bare} (unguarded, app parses JSON)`;
  return [
    {
      name: bareName,
      clients: await echoClients(wsUrl(info.urls[`${key}Bare`]!)),
      cpu,
      cpus: [],
      rate: [],
    },
    {
      name: `${name}: wsguard`,
      clients: await echoClients(wsUrl(info.urls[`${key}Guarded`]!), await bearerOf(info)),
      cpu,
      against: bareName,
      cpus: [],
      rate: [],
    },
  ];
}

function print(cases: Case[]): void {
  console.log(
    `### Server CPU per echoed frame (${ROUNDS} rounds × ${FRAMES} frames, 8 clients × 8 in flight, 197-byte JSON)\n`,
  );
  console.log(
    '| case | server CPU µs/frame (median) | range | guarded ÷ unguarded CPU (median) | range | frames/s (median) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cases) {
    const base = cases.find((o) => o.name === c.against);
    const ratios = base ? c.cpus.map((x, i) => x / base.cpus[i]!) : [];
    const ratio = base ? `${median(ratios).toFixed(2)} | ${span(ratios, 2)}` : '– | –';
    console.log(
      `| ${c.name} | ${median(c.cpus).toFixed(1)} | ${span(c.cpus, 1)} | ${ratio} | ${Math.round(median(c.rate))} |`,
    );
  }
}

async function main(): Promise<void> {
  const node = await startServer<Info>('node', process.execPath, ['--import', 'tsx', SERVER], root);
  const bun = await startServer<Info>(
    'bun',
    join(root, 'node_modules/.bin/bun'),
    ['run', SERVER],
    root,
  );
  const cases = [
    ...(await pair(node.info, `Hono on Node ${process.version}`, 'hono', '@hono/node-ws')),
    ...(await pair(node.info, 'h3 on Node', 'h3', 'defineWebSocketHandler + crossws plugin')),
    ...(await pair(bun.info, 'Hono on Bun', 'hono', 'hono/bun upgradeWebSocket')),
    ...(await pair(bun.info, 'Elysia on Bun', 'elysia', '.ws()')),
  ];
  for (const c of cases) await c.clients.run(2000); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length]!;
      const before = await c.cpu();
      const start = performance.now();
      await c.clients.run(FRAMES);
      const ms = performance.now() - start;
      c.cpus.push(((await c.cpu()) - before) / FRAMES);
      c.rate.push(FRAMES / (ms / 1000));
    }
  }
  print(cases);
  for (const c of cases) c.clients.close();
}

try {
  await main();
} finally {
  killServers();
}
