/**
 * What the integration benches (`bench/integrations-node.bench.ts`, `bench/integrations-web.bench.ts`)
 * share: how a Node server process is started (an esbuild bundle, as users run the built package,
 * or through tsx with `BENCH_TSX=1`, to show what tsx's `keepNames` helper costs: see
 * `bench/bundle.ts`), the base tree of a before/after run (`WSGUARD_BASE`, see
 * `bench/base-tree.ts`), the server's CPU counter, and the rounds and table of the cases.
 *
 * A case is one echo endpoint driven by its own clients; its figure is the CPU per echoed frame of
 * the server process that serves it. A guarded case names the unguarded case it is compared with
 * (`against`: guarded ÷ unguarded per round), and in a before/after run the `after:` row names its
 * `before:` row too (`pair`: after ÷ before per round).
 *
 * @module
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { baseBundle } from './base-tree.ts';
import { nodeBundle } from './bundle.ts';
import type { EchoClients } from './socket-clients.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Rounds and frames per case per round (`BENCH_ROUNDS`, `BENCH_FRAMES`). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const FRAMES = Number(process.env.BENCH_FRAMES ?? 20_000);

/** How Node servers run: `bundle` (the default) or `tsx` (`BENCH_TSX=1`). */
export const NODE_LOADER: 'bundle' | 'tsx' = process.env.BENCH_TSX === '1' ? 'tsx' : 'bundle';

/**
 * The command that runs `entry` (a path under `tree`) on Node: a bundle of that tree's sources,
 * or the sources through tsx.
 */
export async function nodeCommand(tree: string, entry: string): Promise<[string, string[]]> {
  if (NODE_LOADER === 'tsx') return [process.execPath, ['--import', 'tsx', entry]];
  const bundle = tree === root ? await nodeBundle(entry) : await baseBundle(tree, entry);
  return [process.execPath, [bundle]];
}

/** What a bench server prints once listening. */
export interface ServerInfo {
  readonly urls: Record<string, string>;
  readonly secret: string;
}

/** The server process's CPU time so far, µs (user + system). */
export const cpuOf = (info: ServerInfo) => async (): Promise<number> =>
  ((await (await fetch(`${info.urls.control}/cpu`)).json()) as { cpuMicros: number }).cpuMicros;

/** `Authorization` with a JWT signed with the server's secret. */
export const bearerOf = async (info: ServerInfo): Promise<Record<string, string>> => ({
  authorization: `Bearer ${await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(info.secret))}`,
});

/** One echo endpoint of a run. */
export interface Case {
  readonly name: string;
  readonly clients: EchoClients;
  /** The CPU counter of the process that serves it. */
  readonly cpu: () => Promise<number>;
  /** The unguarded case this one is compared with. */
  readonly against?: string;
  /** Its `before:` row, in a before/after run. */
  readonly pair?: string;
  readonly cpus: number[];
  readonly rate: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const span = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/** Warm up, then `ROUNDS` rounds of `FRAMES` frames per case, the order rotated each round. */
export async function runCases(cases: readonly Case[]): Promise<void> {
  for (const c of cases) await c.clients.run(2000);
  for (let r = 0; r < ROUNDS; r++) {
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
}

/** A ratio column of `c` against the case named `other`: median | range, or dashes. */
function ratio(cases: readonly Case[], c: Case, other: string | undefined): string {
  const base = cases.find((o) => o.name === other);
  if (!base) return '– | –';
  const ratios = c.cpus.map((x, i) => x / base.cpus[i]!);
  return `${median(ratios).toFixed(2)} | ${span(ratios, 2)}`;
}

/** The markdown table of a run (an after ÷ before column when some case has a `pair`). */
export function printCases(title: string, cases: readonly Case[]): void {
  const paired = cases.some((c) => c.pair);
  console.log(
    `### ${title} (${ROUNDS} rounds × ${FRAMES} frames, 8 clients × 8 in flight, 197-byte JSON; Node servers: ${NODE_LOADER})\n`,
  );
  console.log(
    `| case | server CPU µs/frame (median) | range | guarded ÷ unguarded CPU (median) | range |${paired ? ' after ÷ before CPU (median) | range |' : ''} frames/s (median) |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: |${paired ? ' ---: | ---: |' : ''} ---: |`);
  for (const c of cases) {
    const after = paired ? ` ${ratio(cases, c, c.pair)} |` : '';
    console.log(
      `| ${c.name} | ${median(c.cpus).toFixed(1)} | ${span(c.cpus, 1)} | ${ratio(cases, c, c.against)} |${after} ${Math.round(median(c.rate))} |`,
    );
  }
}
